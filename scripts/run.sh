#!/usr/bin/env bash
# Install, then run the whole system on the embedded default (SQLite, server-less broker, SMS sink).
# It ends with the address to open; each role's output is in var/logs/<role>.log, the terminal shows only warnings
# and errors. PORT=8080 bash scripts/run.sh to use another port; see README "Configuration" for the real stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install.sh
exec .venv/bin/python -m lotse run "$@"
