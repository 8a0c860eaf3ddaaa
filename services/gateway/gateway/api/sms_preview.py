"""Admins see every SMS text in every language before a client does (GET /v1/staff/sms-texts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.api.deps import gateway
from gateway.api.schemas import problems
from gateway.api.staff_deps import AdminStaff
from shared.contracts import SmsPreviewed
from shared.contracts.common import LanguageCode
from shared.contracts.previews import SmsKind

router = APIRouter(prefix="/v1/staff", tags=["staff calendars"])


@router.get("/sms-texts", response_model=SmsPreviewed,
            responses=problems(401, 403, 422, 503))
def preview_sms_texts(staff: AdminStaff, request: Request, response: Response,
                      kind: Annotated[SmsKind | None, Query(description="one kind of text")] = None,
                      language: Annotated[LanguageCode | None, Query(description="one language")] = None,
                      ) -> SmsPreviewed:
    """Every text as a client's phone shows it, with a sample time, place and link: the encoding, the number of SMS
    segments it costs, and whether a language fell back to English (a broken translation)."""
    response.headers["Cache-Control"] = "no-store"
    return gateway(request).sms_previews.preview(kind, language)
