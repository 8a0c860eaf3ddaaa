"""The one place where errors become HTTP answers: a status, a code and a sentence; never a 500 for bad input.

Validation messages name the field and the rule, never echo the value (it may be a phone number).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerUnreachable
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gateway.errors import GatewayError, Throttled
from gateway.preferences import describe_preference_error
from gateway.web.outage import error_page, is_page, unavailable_page

log = logging.getLogger(__name__)

# What a database or broker that is away raises: no connection (refused, reset, timed out), or none free in the
# pool. Not a bug of ours, so an answer to try again later, without a traceback in the log.
OUTAGES: dict[type[Exception], str] = {
    OperationalError: "database", InterfaceError: "database", DisconnectionError: "database",
    PoolTimeout: "database", BrokerUnreachable: "broker", ConnectionError: "broker",
}
OUTAGE_RETRY_AFTER_SECONDS = 60

_FIELD_MESSAGES = {
    "slot_id": "slot_id is not a slot from the list",
    "language": "language must be one of de, en, ro, bg, hu, pl, ru, uk, es, th",
    "phone": "phone must be a phone number of 3 to 32 characters",
    "channel": "channel must be 'web'",
    "topic": "topic must be one of career, health, safety, psychosocial",
    "counsellor": "counsellor must be a counsellor's alias: 1 to 40 characters, at most four digits, no '+'",
}


def _describe(error: dict[str, Any]) -> str:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "header", "path")]
    field = location[0] if location else ""
    kind = error.get("type", "")
    nested = describe_preference_error(location, error)
    if nested is not None:
        return nested
    if kind == "missing":
        return f"{field} is required" if field else "the body must be a JSON object"
    if kind == "extra_forbidden":
        return f"unexpected field '{field}'"
    if kind in ("json_invalid", "model_attributes_type", "dict_type"):
        return "the body must be a JSON object"
    if field in _FIELD_MESSAGES:
        return _FIELD_MESSAGES[field]
    return f"{field}: {error.get('msg', 'invalid value')}" if field else str(error.get("msg", "invalid request"))


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(_request: Request, exc: GatewayError) -> JSONResponse:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        if isinstance(exc, Throttled):
            headers = {"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"}
        return problem(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = list(dict.fromkeys(_describe(e) for e in exc.errors()))
        return problem(422, "invalid_request", "Please check your request: " + "; ".join(messages) + ".")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body it cannot decode (not UTF-8, say) before validation runs.
            return problem(400, "invalid_request", "Please check your request: the body must be a JSON object.")
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this address."
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            detail = "This address does not accept this kind of request."
        return problem(exc.status_code, "http_error", detail, getattr(exc, "headers", None))

    async def _outage(request: Request, exc: Exception) -> Response:
        part = next((name for kind, name in OUTAGES.items() if isinstance(exc, kind)), "database")
        # One line, no traceback: the route's template (never the path, which may hold a manage token) and the
        # kind of error (never its message, which may quote a statement's parameters).
        route = getattr(request.scope.get("route"), "path", "unmatched")
        log.warning("%s unavailable: %s during %s %s; answered 503", part, type(exc).__name__, request.method, route)
        headers = {"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)}
        if is_page(request):
            return await unavailable_page(request, headers)
        return problem(503, f"{part}_unavailable",
                       "We cannot handle this request right now; nothing was saved or changed. Please try again in a "
                       "minute.", headers)

    for kind in OUTAGES:
        app.add_exception_handler(kind, _outage)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        if is_page(request):
            return error_page(request)
        return problem(500, "internal_error", "Something went wrong on our side. Your data was not changed.")
