"""The shared objects both sub-apps use, their typed app keys and accessors."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from shop.cart.writer import OrderWriter
from shop.codec import OrderEventCodec
from shop.kafka import EventPublisher, KafkaAdmin
from shop.orders.consumer import OrderViewConsumer
from shop.settings import Settings
from shop.store import OrderStore
from shop.topic_scan import ScanSlots


@dataclasses.dataclass(frozen=True, slots=True)
class Shared:
    """Created and closed by ``main``; handed to both sub-apps when they are built."""

    settings: Settings
    bootstrap_servers: str
    store: OrderStore
    publisher: EventPublisher
    admin: KafkaAdmin
    codec: OrderEventCodec
    view: OrderViewConsumer


_SHARED = web.AppKey("shared", Shared)


def install(app: web.Application, shared: Shared) -> None:
    app[_SHARED] = shared


def _shared(app: web.Application) -> Shared:
    return app[_SHARED]


def get_settings(app: web.Application) -> Settings:
    return _shared(app).settings


def get_bootstrap_servers(app: web.Application) -> str:
    return _shared(app).bootstrap_servers


def get_store(app: web.Application) -> OrderStore:
    return _shared(app).store



def get_publisher(app: web.Application) -> EventPublisher:
    return _shared(app).publisher


def get_admin(app: web.Application) -> KafkaAdmin:
    return _shared(app).admin


def get_codec(app: web.Application) -> OrderEventCodec:
    return _shared(app).codec


def get_view(app: web.Application) -> OrderViewConsumer:
    return _shared(app).view


WRITER = web.AppKey("writer", OrderWriter)
SCAN_SLOTS = web.AppKey("scan_slots", ScanSlots)


def get_writer(app: web.Application) -> OrderWriter:
    """The cart's writer (only the cart app has one)."""
    return app[WRITER]


def get_scan_slots(app: web.Application) -> ScanSlots:
    """The orders app's topic-scan slots (only the orders app has them)."""
    return app[SCAN_SLOTS]
