#!/usr/bin/env bash
# Create .venv and install Lotse with its dependencies at the versions in requirements-dev.lock (runtime + dev, every
# file's hash checked); quick when nothing changed since the last install.
#
# To change a dependency, edit pyproject.toml, then lock again here with pip-tools (in a venv of its own: pip install
# 'pip-tools>=7.4,<8'; its options are in pyproject.toml's [tool.pip-tools]; add --upgrade to both commands to move
# every package to the newest release its range allows), the runtime lock first, as the dev lock follows it:
#   pip-compile --build-deps-for=wheel -o requirements.lock pyproject.toml &&
#   pip-compile --extra=dev --build-deps-for=editable -c requirements.lock -o requirements-dev.lock pyproject.toml
# tests/unit/test_dependencies.py fails while a lock does not match pyproject.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON_BIN="${PYTHON:-python3}"
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "lotse: Python 3.11 or newer is needed (found: $("$PYTHON_BIN" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "lotse: creating .venv" >&2
  "$PYTHON_BIN" -m venv .venv
fi
stamp=.venv/.lotse-installed
want="$(cat pyproject.toml requirements.lock requirements-dev.lock | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "lotse: installing the locked dependencies into .venv (first time takes a minute)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
  # Without build isolation the build uses the setuptools just installed from the lock, instead of fetching one
  # that no hash checks.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi
