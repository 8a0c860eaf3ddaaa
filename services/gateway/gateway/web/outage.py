"""The page a person sees while the database or the broker is away: 503 in the page's own language, with
Retry-After, saying that nothing was saved and to try again; and the page for a bug of ours (500). Never JSON on a
page's address."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.requests import ClientDisconnect

from gateway.web.rendering import render
from gateway.web.staff.catalogs import staff_language
from gateway.web.staff.rendering import LANGUAGE_COOKIE, trouble_page
from gateway.web.texts import page_language

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_page(request: Request) -> bool:
    """Whether the request went to one of the pages (`gateway.web`), as opposed to the JSON API."""
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return getattr(endpoint, "__module__", "").startswith("gateway.web.")


async def _chosen_language(request: Request) -> str | None:
    """The language the page was asked in: the form's `lang` field (a POST from a page), else `?lang=`."""
    if request.method == "POST" and request.headers.get("content-type", "").split(";")[0].strip() in FORMS:
        try:
            # The route has parsed the form already; Starlette keeps it on the request, so this reads no body.
            value = (await request.form()).get("lang")
        except (ClientDisconnect, RuntimeError, ValueError):
            value = None
        if isinstance(value, str):
            return value
    return request.query_params.get("lang")


def _again(request: Request) -> str:
    """Where "try again" leads: the same address for a GET; the page the form was on for a POST."""
    path = request.url.path
    if request.method == "GET":
        return path
    parts = path.split("/")
    return f"/m/{parts[2]}" if len(parts) > 2 and parts[1] == "m" else "/"


def _staff_page(request: Request) -> bool:
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return getattr(endpoint, "__module__", "").startswith("gateway.web.staff.")


def _staff_trouble(request: Request, status: int) -> HTMLResponse:
    """A staff page's 500 or 503 in the staff language (German or English), leading back to the staff pages."""
    lang = staff_language(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE),
                          request.headers.get("accept-language"))
    again = request.url.path if request.method == "GET" else "/staff"
    return trouble_page(again, lang, status)


def error_page(request: Request) -> HTMLResponse:
    """A page's 500 (a bug of ours), in the language asked for in the address or by the browser."""
    if _staff_page(request):
        return _staff_trouble(request, 500)
    language = page_language(request.query_params.get("lang"), request.headers.get("accept-language"))
    return render("error.html", language, 500, here=_again(request), again=_again(request))


async def unavailable_page(request: Request, headers: dict[str, str]) -> HTMLResponse:
    if _staff_page(request):
        response = _staff_trouble(request, 503)
        response.headers.update(headers)
        return response
    language = page_language(await _chosen_language(request), request.headers.get("accept-language"))
    response = render("unavailable.html", language, 503, here=_again(request), again=_again(request))
    response.headers.update(headers)
    return response
