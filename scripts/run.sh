#!/usr/bin/env bash
# Install, then run the whole system on the embedded default (SQLite, server-less broker, SMS sink).
# PORT=8080 bash scripts/run.sh to use another port; see README "Configuration" for the real stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install.sh
exec .venv/bin/python -m lotse run "$@"
