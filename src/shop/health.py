"""Health on both ports: ``/health`` (how the service and each dependency are), ``/livez`` (the
process serves) and ``/readyz`` (writes can be made and the view has caught up).

``/health`` is 503 ``unhealthy`` when the service cannot serve: the broker does not answer, the
producer cannot write (it is being replaced after a broker failure), or the view's consumer stopped
on an error. A Schema Registry that does not answer alone is 200 ``degraded``: writes use the
schema id registered at start-up and the view decodes every schema id it has seen, so only a
record of a schema new to the view waits for the registry. A broker that lost records it had
acknowledged is ``degraded`` too, from then on (``orderView.logLoss`` says what went). The broker
and registry probes are real requests, shared by both ports and by every call within about a
second (:class:`shop.probe.SharedProbe`).

``/readyz`` is for a load balancer: 503 while the view replays (at start, after a rebalance or a
loss), while the producer is replaced, or while the broker does not answer.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web

from shop.codec import OrderEventCodec
from shop.kafka import EventPublisher, KafkaAdmin
from shop.ownership import Ownership
from shop.render import json_response

HEALTH_TIMEOUT_S = 2.0


class ViewState(Protocol):
    """What health needs of the order view (the orders package's consumer)."""

    # Set while the view is complete: not replaying after an assignment or a loss.
    caught_up: asyncio.Event

    @property
    def failed(self) -> bool: ...

    def report(self) -> dict[str, object]: ...

    def partitions_caught_up(self) -> dict[int, bool]: ...


class HealthProbes:
    """The checks behind the three endpoints; one instance serves both ports."""

    def __init__(
        self,
        admin: KafkaAdmin,
        codec: OrderEventCodec,
        publisher: EventPublisher,
        view: ViewState,
        ownership: Ownership,
        timeout_s: float,
    ) -> None:
        self._admin = admin
        self._codec = codec
        self._publisher = publisher
        self._view = view
        self._ownership = ownership
        self._timeout_s = min(HEALTH_TIMEOUT_S, timeout_s)

    async def health(self) -> tuple[int, dict[str, object]]:
        kafka, registry = await asyncio.gather(
            self._admin.reachable(self._timeout_s),
            self._codec.registry_reachable(self._timeout_s),
        )
        writable = self._publisher.writable
        view = self._view.report()
        serving = kafka and writable and not self._view.failed
        # The broker lost records it had acknowledged: the service serves what the log holds,
        # and a person should know (orderView.logLoss says what went).
        lost = view["logLoss"] is not None
        body: dict[str, object] = {
            "status": ("healthy" if registry and not lost else "degraded")
            if serving
            else "unhealthy",
            "kafka": "connected" if kafka else "disconnected",
            "producer": "ready" if writable else "recovering",
            "schemaRegistry": "connected" if registry else "disconnected",
            "orderView": view,
            "partitions": {
                **self._ownership.report(),
                "caughtUp": {str(p): done for p, done in self._view.partitions_caught_up().items()},
            },
        }
        return (200 if serving else 503), body

    async def readiness(self) -> tuple[int, dict[str, object]]:
        checks = {
            "kafka": await self._admin.reachable(self._timeout_s),
            "producer": self._publisher.writable,
            # Complete, as writes need it; records fetched a moment ago and not yet applied do not
            # make a busy instance unready.
            "orderView": self._view.caught_up.is_set() and not self._view.failed,
        }
        ready = all(checks.values())
        body: dict[str, object] = {"status": "ready" if ready else "not_ready", "checks": checks}
        return (200 if ready else 503), body


HEALTH = web.AppKey("health", HealthProbes)


async def health(request: web.Request) -> web.Response:
    status, body = await request.app[HEALTH].health()
    return json_response(body, status=status)


async def livez(request: web.Request) -> web.Response:
    """200 while the process answers HTTP at all: nothing is probed."""
    return json_response({"status": "live"})


async def readyz(request: web.Request) -> web.Response:
    status, body = await request.app[HEALTH].readiness()
    return json_response(body, status=status)
