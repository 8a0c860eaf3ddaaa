"""Request dependencies as Annotated aliases; all of them come from the composition root on app.state.

They are `async def` because they only read an attribute: FastAPI runs a plain `def` dependency in its thread
pool, a hop per dependency per request (about a tenth of the gateway's CPU per booking under load)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from gateway.bookings import BookingService
from gateway.settings import GatewaySettings
from gateway.slots import SlotClient

if TYPE_CHECKING:
    from gateway.app import Gateway


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def _bookings(request: Request) -> BookingService:
    return gateway(request).bookings


async def _slots(request: Request) -> SlotClient:
    return gateway(request).slots


async def _settings(request: Request) -> GatewaySettings:
    return gateway(request).settings


BookingsDep = Annotated[BookingService, Depends(_bookings)]
SlotsDep = Annotated[SlotClient, Depends(_slots)]
SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
