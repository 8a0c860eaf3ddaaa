"""How every page goes out: Jinja templates (autoescaped), headers that keep pages out of caches, indexes and
frames, and redirects after a POST."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import phonenumbers
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gateway.web.catalogs import gettext, language_names
from gateway.web.texts import FIELD_OF, FIELD_ORDER, text

WEB_DIR = Path(__file__).resolve().parent
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Scripts only as files from our own origin (the quick-leave script): nothing inline, nothing from elsewhere.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; object-src 'none'; img-src 'self' data:; "
                               "style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}


class QuickExit:
    """Where the "leave quickly" button goes (QUICK_EXIT_URL), set once by the composition root."""

    url = "https://www.google.com/"


QUICK_EXIT = QuickExit()


def configure(quick_exit_url: str) -> None:
    QUICK_EXIT.url = quick_exit_url


@cache
def templates() -> Environment:
    # The i18n extension lets `pybabel extract` find `_()` and `{% trans %}`; the translation functions themselves
    # come with each page's context, as one Environment serves every language at once.
    return Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])


class Named:
    """`t[key]` in a template: the text the page code names by key (gateway.web.texts), in the page's language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __getitem__(self, key: str) -> str:
        return text(self.language, key)


# The home country of each page language, for an example number a client of that language would recognise.
HOME_COUNTRY = {"de": "DE", "en": "GB", "ro": "RO", "bg": "BG", "hu": "HU", "pl": "PL", "ru": "RU", "uk": "UA",
                "es": "ES", "th": "TH"}


@cache
def example_mobile(country: str, international: bool) -> str:
    number = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return ""
    form = phonenumbers.PhoneNumberFormat.INTERNATIONAL if international else phonenumbers.PhoneNumberFormat.NATIONAL
    return phonenumbers.format_number(number, form)


def phone_hint(lang: str, allowed_countries: tuple[str, ...] = ("DE",)) -> str:
    """"For example 01512 3456789 or +40 712 034 567": numbers the booking form accepts (libphonenumber's own
    examples), a German one as dialled in Germany and one with the country code of the language's home country
    when texts may go there (else the German one again, with +49)."""
    home = HOME_COUNTRY.get(lang, "DE")
    abroad = home if home in allowed_countries and home != "DE" else "DE"
    return text(lang, "phone_hint").format(example=example_mobile("DE", international=False),
                                           international=example_mobile(abroad, international=True))


def render(template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page; `retry_after` (seconds) in the context becomes the Retry-After header of a refusal."""
    retry_after = context.pop("retry_after", None)
    def translate(msgid: str) -> str:
        return gettext(lang, msgid)

    context.setdefault("phone_hint", phone_hint(lang))
    errors: list[str] = context.pop("errors", [])
    # An error about one field is said next to it and moves the focus there; the rest stand above the page.
    by_field: dict[str, list[str]] = {}
    for error in errors:
        if error in FIELD_OF:
            by_field.setdefault(FIELD_OF[error], []).append(error)
    focus = next((field for field in FIELD_ORDER if field in by_field), None)
    html = templates().get_template(template).render(
        lang=lang, _=translate, gettext=translate, t=Named(lang), languages=language_names(),
        here=context.pop("here", "/"), errors=[error for error in errors if error not in FIELD_OF],
        field_errors=by_field, focus=focus, leave_to=QUICK_EXIT.url, **context,
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
def static_file(name: str) -> bytes:
    return (WEB_DIR / "static" / name).read_bytes()
