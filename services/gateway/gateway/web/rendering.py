"""How every page goes out: Jinja templates (autoescaped), headers that keep pages out of caches, indexes and
frames, and redirects after a POST."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gateway.web.texts import TEXTS

WEB_DIR = Path(__file__).resolve().parent
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; img-src 'self' data:; "
                               "style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}


@cache
def templates() -> Environment:
    return Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def render(template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page; `retry_after` (seconds) in the context becomes the Retry-After header of a refusal."""
    retry_after = context.pop("retry_after", None)
    html = templates().get_template(template).render(
        lang=lang, t=TEXTS[lang], languages=[(code, texts["language_name"]) for code, texts in TEXTS.items()],
        here=context.pop("here", "/"), errors=context.pop("errors", []), refresh=context.pop("refresh", None),
        **context,
    )
    headers = dict(PAGE_HEADERS)
    if status == 503:
        headers["Retry-After"] = "60"
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return HTMLResponse(html, status_code=status, headers=headers)


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


@cache
def stylesheet() -> bytes:
    return (WEB_DIR / "static" / "site.css").read_bytes()
