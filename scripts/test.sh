#!/usr/bin/env bash
# Install, make sure this machine's PostgreSQL and RabbitMQ run (start them if not), then run every test.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install.sh

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do listening "$1" && return 0; sleep 1; done; return 1; }

if ! listening 5432; then
  echo "lotse: PostgreSQL is down; starting it" >&2
  if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  fi
  wait_for 5432 || { echo "lotse: PostgreSQL is not running on 127.0.0.1:5432 and could not be started; the integration tests need it." >&2; exit 1; }
fi
if ! listening 5672; then
  echo "lotse: RabbitMQ is down; starting it" >&2
  command -v rabbitmq-server >/dev/null && rabbitmq-server -detached || true
  wait_for 5672 || { echo "lotse: RabbitMQ is not running on 127.0.0.1:5672 and could not be started; the integration tests need it." >&2; exit 1; }
  rabbitmqctl await_startup --timeout 60 >/dev/null 2>&1 || true
fi

# The Twilio contract mock (../shared/twilio) installs Prism once from the npm registry.
mock="${TWILIO_MOCK_SH:-../shared/twilio/mock.sh}"
if [ -x "$mock" ]; then
  "$mock" --install >/dev/null
else
  echo "lotse: $mock not found; the end-to-end test against Twilio's contract needs it (set TWILIO_MOCK_SH)" >&2
  exit 1
fi
# The browser tests (tests/browser): Debian's Chromium (apt, when missing) and axe-core (npm, into node_modules).
PYTHON=.venv/bin/python bash scripts/install-browser.sh

.venv/bin/ruff check .
.venv/bin/mypy shared services lotse
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
