"""Request dependencies as Annotated aliases; all of them come from the composition root on app.state.

They are `async def` because they only read an attribute: FastAPI runs a plain `def` dependency in its thread
pool, a hop per dependency per request (about a tenth of the gateway's CPU per booking under load)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from gateway.bookings import BookingService
from gateway.limits import ClientLimits
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


async def _limits(request: Request) -> ClientLimits:
    return gateway(request).limits


def client_address(request: Request) -> str:
    """The client's address for limits: the peer, or what a trusted proxy says it is (gateway.forwarding)."""
    settings: GatewaySettings = request.app.state.gateway.settings
    return settings.trusted_proxies.client_address(request.client.host if request.client else None,
                                                   request.headers.get("x-forwarded-for"))


async def _client_address(request: Request) -> str:
    return client_address(request)


BookingsDep = Annotated[BookingService, Depends(_bookings)]
SlotsDep = Annotated[SlotClient, Depends(_slots)]
SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
LimitsDep = Annotated[ClientLimits, Depends(_limits)]
ClientAddress = Annotated[str, Depends(_client_address)]
