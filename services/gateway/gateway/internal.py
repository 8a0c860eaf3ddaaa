"""The gateway's internal port: Prometheus metrics and the whole OpenAPI description (staff routes included), on
METRICS_HOST (loopback by default), never on the clients' address.

A second small ASGI app served by its own uvicorn server in a thread of the gateway process. No /docs: Swagger UI
would load its scripts from a CDN, and nothing of Lotse makes third-party requests; the description is for tools.
"""

from __future__ import annotations

import threading
from typing import Any

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.registry import CollectorRegistry


def create_internal_app(public: FastAPI, registry: CollectorRegistry = REGISTRY) -> FastAPI:
    app = FastAPI(title="Lotse gateway (internal)", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json")
    def openapi() -> dict[str, Any]:
        return public.openapi()  # every route of the gateway, as FastAPI describes them

    return app


def serve_internal(app: FastAPI, host: str, port: int) -> uvicorn.Server | None:
    """Serve `app` on host:port in a daemon thread; port 0 serves nothing."""
    if not port:
        return None
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                           lifespan="off"))
    threading.Thread(target=server.run, name="gateway-internal", daemon=True).start()
    return server
