"""Requests for an order reach the instance that owns its partition, wherever they arrive.

The owner serves it; any other instance forwards it to the owner (one hop: a forwarded request
that finds the owner elsewhere again met a rebalance, and is a 503) and relays the answer, status,
body and headers. A request for an order whose partition is moving, or whose owner has not caught
up, is a 503 with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from shop.errors import Rebalancing, Unavailable
from shop.health import ViewState
from shop.observability.logs import request_id
from shop.observability.requests import REQUEST_ID
from shop.ownership import RETRY_AFTER_S, Instance, Ownership

FORWARDED_BY = "X-Shop-Forwarded-By"
# Sent to the owner as the client sent them (the body is sent decoded: no Content-Encoding).
_PASSED_ON = ("Content-Type", "Accept")
# Not relayed: hop-by-hop, or set again by this instance's own answer.
_NOT_RELAYED = frozenset(
    name.lower()
    for name in ("Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length",
                 "Content-Encoding", "Date", "Server", REQUEST_ID)
)  # fmt: skip


class Api(enum.Enum):
    CART = "cart"
    ORDERS = "orders"

    def url_of(self, instance: Instance) -> str:
        return instance.cart_url if self is Api.CART else instance.orders_url


class Router:
    def __init__(self, ownership: Ownership, view: ViewState, timeout_s: float) -> None:
        self._ownership = ownership
        self._view = view
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Router]:
        """The client session the forwards share, closed on exit."""
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
            self._session = session
            try:
                yield self
            finally:
                self._session = None

    async def route(self, request: web.Request, order_id: str, api: Api) -> web.Response | None:
        """None when this instance serves ``order_id`` itself; else the owner's answer."""
        owner = self._ownership.owner(order_id)
        if owner.mine:
            if not self._view.caught_up.is_set():
                raise Rebalancing(
                    f"partition {owner.partition} of order {order_id} is being replayed by this "
                    f"instance; try again in {RETRY_AFTER_S} s",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            return None
        if FORWARDED_BY in request.headers:
            raise Rebalancing(
                f"the instances disagree on who owns partition {owner.partition} while they "
                f"rebalance; try again in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        return await self._forward(request, api.url_of(owner.instance), owner.partition)

    async def _forward(self, request: web.Request, base_url: str, partition: int) -> web.Response:
        assert self._session is not None, "Router.running() first"
        headers = {name: request.headers[name] for name in _PASSED_ON if name in request.headers}
        headers[FORWARDED_BY] = self._ownership.me.cart_url
        headers[REQUEST_ID] = request_id.get() or ""
        # The handler has read the body (to find the order); read() gives it again from memory.
        body = await request.read() or None
        try:
            async with self._session.request(
                request.method, base_url + request.path_qs, data=body, headers=headers
            ) as answer:
                relayed = await answer.read()
                status, answered = answer.status, answer.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(
                f"the instance that owns partition {partition} ({base_url}) does not answer "
                f"({type(exc).__name__}); try again in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from None
        kept = CIMultiDict((k, v) for k, v in answered.items() if k.lower() not in _NOT_RELAYED)
        return web.Response(status=status, body=relayed, headers=kept)


ROUTER = web.AppKey("router", Router)
