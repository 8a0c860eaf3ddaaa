"""`/admin/texts`: every SMS text a client can receive, in every client language, as the phone shows it (rendered by
the notifier with a sample time, place and link): its encoding, the number of SMS segments it costs, and a warning
where a language fell back to English. A GET form narrows it to one kind and/or one language.

The texts are the same for every appointment type: they never say what an appointment is about (the page says so,
so that nobody looks for a per-type text to change). Not audited, like the API's GET /v1/staff/sms-texts: the
previews hold sample values only, no one's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.errors import SchedulerUnavailable
from gateway.web.catalogs import LANGUAGES, N_
from gateway.web.staff.access import admin_only, language, to_sign_in
from gateway.web.staff.catalogs import language_label
from gateway.web.staff.rendering import render
from shared.contracts import SmsPreviewed
from shared.contracts.previews import SmsKind, SmsPreview

router = APIRouter(include_in_schema=False)
PAGE = "/admin/texts"
TITLE = N_("Text messages in every language")
KINDS: tuple[str, ...] = get_args(SmsKind)
# What each kind of text is, in the words of the office.
KIND_NAMES = {
    "confirmation": N_("Confirmation of a booking"),
    "reminder": N_("Reminder before an appointment"),
    "rescheduled": N_("Appointment moved to another time"),
    "cancelled": N_("Appointment cancelled"),
    "opted_out": N_("Texts stopped (the client replied STOP)"),
    "opted_in": N_("Texts on again (the client replied START)"),
}


@dataclass(frozen=True)
class Shown:
    preview: SmsPreview
    language: str  # the client language in the page's language ("Thailändisch")
    rendered: str  # the language the text is in, when it fell back


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> tuple[str, bool]:
    """The filter's value ("" for all) and whether it is one of ours."""
    given = (request.query_params.get(name) or "")[:20]
    return given, given in ("", *allowed)


@router.get(PAGE, response_class=HTMLResponse)
def texts_page(request: Request) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, TITLE, here=PAGE)
    if current is None:
        return refused or to_sign_in(request)
    (kind, kind_ok), (client_language, language_ok) = (_choice(request, "kind", KINDS),
                                                       _choice(request, "language", LANGUAGES))
    query = "&".join(f"{name}={value}" for name, value in (("kind", kind), ("language", client_language))
                     if value and kind_ok and language_ok)
    context: dict[str, Any] = {
        "kinds": [(code, KIND_NAMES[code]) for code in KINDS], "kind": kind, "client_language": client_language,
        "client_languages": [(code, language_label(code, lang)) for code in LANGUAGES]}
    here = f"{PAGE}?{query}" if query else PAGE
    errors = ([] if kind_ok else ["texts.kind_invalid"]) + ([] if language_ok else ["texts.language_invalid"])
    if errors:
        return render("texts.html", lang, 422, here=PAGE, errors=errors, staff=current.staff,
                      csrf=current.csrf_token, groups=None, sender="", **context)
    try:
        previewed: SmsPreviewed = request.app.state.gateway.sms_previews.preview(kind or None, client_language or None)
    except SchedulerUnavailable:
        return render("message.html", lang, 503, here=here, errors=["texts.notifier_away"], staff=current.staff,
                      csrf=current.csrf_token, title=N_("Text service not available"), again=here,
                      headers={"Retry-After": "60"})
    groups = []
    for code in KINDS:
        shown = [Shown(p, language_label(p.language, lang), language_label(p.rendered_language, lang))
                 for p in previewed.previews if p.kind == code]
        if shown:
            groups.append((KIND_NAMES[code], sorted(shown, key=lambda s: LANGUAGES.index(s.preview.language)
                                                    if s.preview.language in LANGUAGES else len(LANGUAGES))))
    return render("texts.html", lang, here=here, staff=current.staff, csrf=current.csrf_token, groups=groups,
                  sender=previewed.sender_id, **context)
