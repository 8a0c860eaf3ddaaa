"""How a staff page goes out: its own Jinja templates in the staff language, the client pages' headers (no cache,
no index, no frame, scripts from our origin only), the staff language remembered in a cookie."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gateway.web.catalogs import N_
from gateway.web.rendering import PAGE_HEADERS
from gateway.web.staff.catalogs import STAFF_LANGUAGES, staff_gettext
from gateway.web.staff.texts import FIELD_OF, FIELD_ORDER, TEXTS

STAFF_DIR = Path(__file__).resolve().parent
LANGUAGE_COOKIE = "lotse_staff_lang"
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}


@cache
def templates() -> Environment:
    return Environment(loader=FileSystemLoader(STAFF_DIR / "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])


class Named:
    """`t[key]` in a template: the staff text named `key` (gateway.web.staff.texts) in the page's language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __getitem__(self, key: str) -> str:
        return staff_gettext(self.language, TEXTS[key])


def say(language: str, key: str, **values: object) -> str:
    text = staff_gettext(language, TEXTS[key])
    return text.format(**values) if values else text


def named(language: str, kind: str, code: str) -> str:
    """A code in words where the pages have them (`named(lang, "mode", "phone")`: "by phone"), else the code
    itself: a topic or place kind an admin made up has no text of ours."""
    key = f"{kind}.{code}"
    return say(language, key) if key in TEXTS else code


def render(template: str, lang: str, status: int = 200, *, here: str, errors: list[str] | None = None,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """The page. `errors` are text keys: one about a field is said next to it (which takes the focus), the rest
    above the page; `here` is the page's own address, for the language switch."""
    def translate(msgid: str) -> str:
        return staff_gettext(lang, msgid)

    by_field: dict[str, str] = {}
    general: list[str] = []
    for key in errors or []:
        if key in FIELD_OF:
            by_field.setdefault(FIELD_OF[key], key)
        else:
            general.append(key)
    focus = next((field for field in FIELD_ORDER if field in by_field), None)
    context.setdefault("staff", None)
    context.setdefault("csrf", "")
    context.setdefault("notice", None)
    context.setdefault("again", None)
    html = templates().get_template(template).render(
        lang=lang, _=translate, gettext=translate, t=Named(lang), here=here,
        languages=[(code, LANGUAGE_NAMES[code]) for code in STAFF_LANGUAGES if code != lang],
        errors=general, field_errors=by_field, focus=focus, **context)
    response = HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
    remember_language(response, lang)
    return response


def redirect(location: str, lang: str | None = None) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)
    if lang is not None:
        remember_language(response, lang)
    return response


def remember_language(response: HTMLResponse | RedirectResponse, lang: str) -> None:
    # Not personal data, only a choice between two languages; Strict like the session, so no other site sets it.
    response.set_cookie(LANGUAGE_COOKIE, lang, path="/", httponly=True, samesite="strict", max_age=365 * 24 * 3600)


@cache
def static_file(name: str) -> bytes:
    return (STAFF_DIR / "static" / name).read_bytes()


def trouble_page(request_path: str, lang: str, status: int) -> HTMLResponse:
    """A staff page's answer while the database or broker is away (503) or after a bug of ours (500): in the staff
    language, without the session (which may be what cannot be read), with a link to try the page again."""
    title, key = (N_("Not available right now"), "away") if status == 503 else (N_("Something went wrong"), "broken")
    return render("message.html", lang, status, here=request_path, errors=[key], title=title,
                  again=request_path if request_path.startswith(("/staff", "/admin")) else "/login")
