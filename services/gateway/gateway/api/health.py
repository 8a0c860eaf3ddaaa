"""Liveness and readiness (database and broker). Prometheus metrics are on the internal port (gateway.internal)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.api.deps import gateway

router = APIRouter(tags=["service status"])


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={
    503: {"model": Readiness, "description": "the database or the broker cannot be reached"}})
def readyz(request: Request) -> JSONResponse:
    checks = gateway(request).readiness()
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)
