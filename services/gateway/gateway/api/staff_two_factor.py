"""Two-factor sign-in of the signed-in staff member: GET /v1/staff/two-factor, POST .../enrolment (a QR code),
POST .../enrolment/confirm (the first code; answers the recovery codes, once), POST .../recovery-codes, POST
.../disable.

Admins must have it, counsellors may: an admin's session without it reaches these routes, /me and /logout only.
Wrong codes count as failed sign-ins (423 after five). Every answer is no-store: secrets and codes pass here once.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from gateway.api.schemas import problems
from gateway.api.staff_auth import CodeIn
from gateway.api.staff_deps import EnrollingStaffSession, StaffAccountsDep, client_address, no_store

router = APIRouter(prefix="/v1/staff/two-factor", tags=["staff"])

_ERRORS = problems(400, 401, 403, 409, 413, 422, 423, 429, 503)


class TwoFactorOut(BaseModel):
    enabled: bool
    required: bool = Field(description="true for admins: their sessions can do nothing else until it is on")
    enrolment_started: bool = Field(description="a QR code was shown and waits for its first code")
    recovery_codes_left: int


class EnrolmentOut(BaseModel):
    secret: str = Field(description="base32, for typing into an app that cannot scan")
    provisioning_uri: str = Field(description="otpauth://totp/... as the QR code holds it")
    qr_svg: str = Field(description="the QR code as inline SVG, drawn by the gateway")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="ten one-time codes, shown only in this answer")


@router.get("", responses=_ERRORS)
def status(current: EnrollingStaffSession, accounts: StaffAccountsDep, response: Response) -> TwoFactorOut:
    no_store(response)
    state = accounts.two_factor_status(current.staff.id)
    return TwoFactorOut(enabled=state.enabled, required=state.required, enrolment_started=state.enrolment_started,
                        recovery_codes_left=state.recovery_codes_left)


@router.post("/enrolment", responses=_ERRORS)
def begin_enrolment(request: Request, current: EnrollingStaffSession, accounts: StaffAccountsDep,
                    response: Response) -> EnrolmentOut:
    """A new secret for an authenticator app; it takes effect only when its first code confirms it."""
    no_store(response)
    enrolment = accounts.begin_enrolment(current.staff.id, client_address(request))
    return EnrolmentOut(secret=enrolment.secret, provisioning_uri=enrolment.uri, qr_svg=enrolment.qr_svg)


@router.post("/enrolment/confirm", responses=_ERRORS)
def confirm_enrolment(body: CodeIn, request: Request, current: EnrollingStaffSession, accounts: StaffAccountsDep,
                      response: Response) -> RecoveryCodesOut:
    """Turns two-factor sign-in on; this session stays signed in (for an admin it can now do everything)."""
    no_store(response)
    return RecoveryCodesOut(recovery_codes=accounts.confirm_enrolment(current.staff.id, body.code,
                                                                      client_address(request)))


@router.post("/recovery-codes", responses=_ERRORS)
def new_recovery_codes(body: CodeIn, request: Request, current: EnrollingStaffSession, accounts: StaffAccountsDep,
                       response: Response) -> RecoveryCodesOut:
    """Ten new recovery codes for a current code; the old ones stop working."""
    no_store(response)
    return RecoveryCodesOut(recovery_codes=accounts.new_recovery_codes(current.staff.id, body.code,
                                                                       client_address(request)))


@router.post("/disable", status_code=204, responses=_ERRORS)
def disable(body: CodeIn, request: Request, current: EnrollingStaffSession, accounts: StaffAccountsDep) -> Response:
    """Turns it off with a current code or a recovery code; an admin must then set it up again before anything else."""
    accounts.disable_two_factor(current.staff.id, body.code, client_address(request))
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
