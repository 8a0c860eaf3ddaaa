"""ARCHITECTURE.md stays true: every path it names exists, and the import rules it states hold."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("gateway", "scheduler", "notifier")
FRAMEWORKS = ("fastapi", "starlette", "celery", "kombu", "amqp", "sqlalchemy", "sqlmodel", "twilio", "httpx",
              "requests", "aiohttp")
PHONE_HANDLING = ("shared.crypto", "shared.phones", "phonenumbers")


def named_paths() -> list[str]:
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return sorted({p for p in re.findall(r"`([\w./-]+)`", text) if "/" in p or p.endswith((".py", ".md", ".yml"))
                   or p == "Dockerfile"})


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_architecture_names_paths_at_all() -> None:
    assert len(named_paths()) >= 20


@pytest.mark.parametrize("path", named_paths())
def test_every_path_architecture_names_exists(path: str) -> None:
    if "/" not in path.rstrip("/") and not (REPO / path).exists():
        # A bare file name is one of the files every service has ("Every service has the same shape").
        missing = [s for s in SERVICES if not (REPO / "services" / s / s / path).exists()]
        assert missing == [], f"ARCHITECTURE.md says every service has {path}; these have not"
        return
    assert (REPO / path).exists(), f"ARCHITECTURE.md names {path}, which is gone: update the page"


def test_shared_imports_no_service() -> None:
    found = [(p.relative_to(REPO), n) for p in modules(REPO / "shared") for n in imports(p)
             if within(n, (*SERVICES, "lotse"))]
    assert found == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = tuple(s for s in SERVICES if s != service)
    found = [(p.relative_to(REPO), n) for p in modules(REPO / "services" / service / service) for n in imports(p)
             if within(n, others)]
    assert found == []


@pytest.mark.parametrize("service", ["scheduler", "notifier"])
def test_domain_code_imports_no_framework_or_driver(service: str) -> None:
    domain = REPO / "services" / service / service / "domain"
    found = [(p.relative_to(REPO), n) for p in modules(domain) for n in imports(p) if within(n, FRAMEWORKS)]
    assert modules(domain) and found == []


def test_the_scheduler_has_no_way_to_read_a_phone_number() -> None:
    found = [(p.relative_to(REPO), n) for p in modules(REPO / "services" / "scheduler" / "scheduler")
             for n in imports(p) if within(n, PHONE_HANDLING)]
    assert found == []
