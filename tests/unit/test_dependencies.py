"""What the code imports is declared in pyproject.toml, and the lock files install what pyproject.toml declares.

requirements.lock (runtime, what the image installs) and requirements-dev.lock (runtime + the dev extra, what
scripts/install.sh installs) are made by pip-compile; the commands are in scripts/install.sh.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, packages_distributions, requires, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
RUNTIME_LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
PRODUCTION_ROOTS = ("shared", "lotse", "services")
TOOLING_ROOTS = ("tests", "bench")

# One pinned requirement with its hashes: `name==version \` then `--hash=sha256:…` lines (pip-compile's layout).
PIN = re.compile(r"^(?P<requirement>[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;\\]+(?:\s*;[^\\\n]+)?) \\\n"
                 r"(?P<hashes>(?:[ \t]+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", re.MULTILINE)


def declared(requirements: Iterable[str]) -> dict[NormalizedName, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, requirements)}


RUNTIME = declared(PYPROJECT["project"]["dependencies"])
DEV = declared(PYPROJECT["project"]["optional-dependencies"]["dev"])
BUILD = declared(PYPROJECT["build-system"]["requires"])


@functools.cache
def locked(lock: Path) -> dict[NormalizedName, Version]:
    text = lock.read_text()
    pins: dict[NormalizedName, Version] = {}
    for match in PIN.finditer(text):
        requirement = Requirement(match["requirement"])
        pins[canonicalize_name(requirement.name)] = Version(next(iter(requirement.specifier)).version)
    # An entry without hashes does not match PIN: pip would refuse the whole file with --require-hashes.
    entries = [line for line in text.splitlines() if line and not line[0].isspace() and line[0] not in "#-"]
    unhashed = [line for line in entries if canonicalize_name(re.split(r"[=<>!~;\s\[]", line)[0]) not in pins]
    assert unhashed == [], f"{lock.name}: entries that are not a pin with hashes"
    return pins


def local_modules() -> set[str]:
    """Our own top-level modules: the packages setuptools finds, and the scripts beside each other in tests/, bench/."""
    packages = {pattern.rstrip("*.") for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    scripts = {path.stem for root in TOOLING_ROOTS for path in (REPO / root).rglob("*.py")}
    return packages | scripts | set(TOOLING_ROOTS)


def third_party_imports(roots: Iterable[str]) -> Iterator[tuple[str, Path]]:
    """(top-level module, file) for every absolute import of a module that is neither ours nor the standard library."""
    ours = local_modules()
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in ours:
                        yield top, path.relative_to(REPO)


def undeclared_imports(roots: Iterable[str], allowed: set[NormalizedName]) -> list[str]:
    providers = packages_distributions()
    problems = []
    for module, path in third_party_imports(roots):
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        if not distributions:
            problems.append(f"{path}: `{module}` is provided by no installed distribution")
        elif not distributions & allowed:
            problems.append(f"{path}: `{module}` comes from {sorted(distributions)}, which is not declared")
    return sorted(set(problems))


def test_production_code_imports_only_declared_runtime_dependencies() -> None:
    # A package that arrives only as another one's dependency can disappear with that one's next release.
    assert undeclared_imports(PRODUCTION_ROOTS, set(RUNTIME)) == []


def test_tests_and_bench_import_only_declared_runtime_or_dev_dependencies() -> None:
    assert undeclared_imports(TOOLING_ROOTS, set(RUNTIME) | set(DEV)) == []


def test_every_declared_dependency_has_an_upper_bound() -> None:
    unbounded = [str(r) for r in [*RUNTIME.values(), *DEV.values(), *BUILD.values()]
                 if not any(spec.operator in ("<", "<=", "==", "~=") for spec in r.specifier)]
    assert unbounded == []


def test_every_declared_dependency_is_locked_at_a_version_its_range_allows() -> None:
    wanted = [(RUNTIME_LOCK, RUNTIME | BUILD), (DEV_LOCK, RUNTIME | DEV | BUILD)]
    problems = []
    for lock, requirements in wanted:
        pins = locked(lock)
        for name, requirement in requirements.items():
            if name not in pins:
                problems.append(f"{lock.name}: {requirement} is not locked")
            elif not requirement.specifier.contains(pins[name], prereleases=True):
                problems.append(f"{lock.name}: {name}=={pins[name]} is outside {requirement}")
    assert problems == [], "update the locks with the commands in scripts/install.sh"


def test_the_dev_lock_pins_every_runtime_package_at_the_same_version() -> None:
    # The tests then run exactly what the image runs.
    runtime, dev = locked(RUNTIME_LOCK), locked(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime


def requirement_closure(roots: Iterable[Requirement]) -> set[NormalizedName]:
    """Every distribution the given requirements pull in on this platform, after the metadata of the installed
    packages, which must be the versions requirements-dev.lock pins."""
    pins = locked(DEV_LOCK)
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    pending = list(roots)
    while pending:
        requirement = pending.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            installed, metadata = Version(version(requirement.name)), requires(requirement.name) or []
        except PackageNotFoundError:
            installed, metadata = None, []
        # Only the metadata of the locked version tells what that version needs.
        assert installed == pins.get(key[0]), \
            f"{requirement.name} {installed} is installed, the dev lock has {pins.get(key[0])}: run scripts/install.sh"
        for line in map(Requirement, metadata):
            environments = [{"extra": extra} for extra in requirement.extras or {""}]
            if line.marker is None or any(line.marker.evaluate(env) for env in environments):
                pending.append(line)
    return {name for name, _ in seen}


def test_the_runtime_lock_holds_what_the_runtime_dependencies_need_and_no_dev_tool() -> None:
    # The image installs requirements.lock: a test runner or a type checker there is weight and attack surface.
    needed = requirement_closure([*RUNTIME.values(), *BUILD.values()])
    assert set(locked(RUNTIME_LOCK)) == needed
