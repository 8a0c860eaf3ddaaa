"""`python -m gateway` serves the HTTP API and pages (uvicorn) with the gateway's broker listener inside.

`python -m gateway create-admin --username NAME` (and `create-staff`, see `--help`) manage staff accounts instead,
in the system's data wherever they are run from (VAR_DIR, by default the checkout's var/); without data there they
refuse instead of starting an empty system.
"""

from __future__ import annotations

import sys

import uvicorn
from prometheus_client import REGISTRY

from gateway.api.limits import server_options
from gateway.app import build, create_app
from gateway.init import missing_data
from gateway.internal import create_internal_app, serve_internal
from gateway.settings import GatewaySettings
from shared.logging import configure_logging
from shared.metrics import OutboxBacklog
from shared.private_files import owner_only_from_now
from shared.settings import ConfigurationError, load_settings_or_exit


def main() -> None:
    owner_only_from_now()  # databases, logs and keys this process creates are its owner's alone
    if len(sys.argv) > 1:
        from gateway.staff.commands import run

        if not {"-h", "--help"} & set(sys.argv[1:]):
            problem = missing_data(load_settings_or_exit(GatewaySettings))
            if problem is not None:
                print(f"lotse: {problem}", file=sys.stderr)
                raise SystemExit(1)
        raise SystemExit(run(sys.argv[1:]))
    settings = load_settings_or_exit(GatewaySettings)
    configure_logging("gateway", settings.log_level)
    try:
        gateway = build(settings)
    except ConfigurationError as exc:
        raise SystemExit(f"lotse: configuration error: {exc}") from None
    app = create_app(gateway)
    REGISTRY.register(OutboxBacklog(gateway.engine, "gateway"))
    serve_internal(create_internal_app(app), settings.metrics_host, settings.gateway_metrics_port)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False, **server_options())


if __name__ == "__main__":
    main()
