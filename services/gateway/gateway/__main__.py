"""`python -m gateway` serves the HTTP API and pages (uvicorn) with the gateway's broker listener inside.

`python -m gateway create-admin --username NAME` (and `create-staff`, see `--help`) manage staff accounts instead.
"""

from __future__ import annotations

import sys

import uvicorn

from gateway.app import build, create_app
from gateway.settings import GatewaySettings
from shared.logging import configure_logging
from shared.settings import ConfigurationError, load_settings_or_exit


def main() -> None:
    if len(sys.argv) > 1:
        from gateway.staff.commands import run

        raise SystemExit(run(sys.argv[1:]))
    settings = load_settings_or_exit(GatewaySettings)
    configure_logging("gateway", settings.log_level)
    try:
        gateway = build(settings)
    except ConfigurationError as exc:
        raise SystemExit(f"lotse: configuration error: {exc}") from None
    uvicorn.run(create_app(gateway), host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
