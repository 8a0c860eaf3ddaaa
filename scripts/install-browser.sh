#!/usr/bin/env bash
# What tests/browser need besides .venv (Playwright for Python comes with requirements-dev.lock): Debian's Chromium
# at /usr/bin/chromium (installed with apt when missing; a browser download of Playwright's own does not work here
# and is never run) and axe-core from the npm registry into node_modules/ (not committed), at the version in
# package-lock.json. Fails with a sentence when either cannot be had: the browser tests are never skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "lotse: installing Debian's chromium for the browser tests (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    apt-get install -y -qq chromium >&2 || true
  fi
  if [ ! -x "$CHROMIUM" ]; then
    echo "lotse: $CHROMIUM is missing and could not be installed; the browser tests (tests/browser) need it:" \
         "as root, run 'apt-get update && apt-get install -y chromium'" >&2
    exit 1
  fi
fi

if ! command -v npm >/dev/null; then
  echo "lotse: npm is missing; the browser tests need it to install axe-core (Node 18.20+ with npm)" >&2
  exit 1
fi
stamp=node_modules/.lotse-installed
want="$(cat package.json package-lock.json | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
  echo "lotse: installing axe-core into node_modules (package-lock.json)" >&2
  if ! npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2; then
    echo "lotse: 'npm ci' failed; the browser tests need axe-core (package-lock.json) in node_modules" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

PYTHON="${PYTHON:-.venv/bin/python}"
if ! "$PYTHON" -c 'import playwright.sync_api' 2>/dev/null; then
  echo "lotse: Playwright for Python is missing from $PYTHON; run bash scripts/install.sh" >&2
  exit 1
fi
