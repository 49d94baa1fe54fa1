"""Every error the service answers with: an HTTP status, a short code and a sentence to act on.

The one error middleware maps these by class hierarchy; no handler builds an error response.
"""

from __future__ import annotations

from collections.abc import Mapping

# Client text (field names, paths, content types) echoed in an answer is clipped to this many
# characters, so a hostile request cannot make its own error answer large.
ECHO_LIMIT = 64


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` as an error message may quote it: at most ``limit`` characters, ``…`` at a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ShopError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        # HTTP headers the answer needs, e.g. Retry-After on a 429.
        self.headers = dict(headers or {})


class InvalidRequest(ShopError):
    status = 400
    code = "invalid_request"


class Forbidden(ShopError):
    status = 403
    code = "forbidden"


class TopicNotAllowed(Forbidden):
    code = "topic_not_allowed"


class NotFound(ShopError):
    status = 404
    code = "not_found"


class OrderNotFound(NotFound):
    code = "order_not_found"


class TopicNotFound(NotFound):
    code = "topic_not_found"


class Conflict(ShopError):
    status = 409
    code = "conflict"


class OrderAlreadyExists(Conflict):
    code = "order_already_exists"


class StatusLocked(Conflict):
    code = "status_locked"


class UnsupportedMediaType(ShopError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(ShopError):
    status = 429
    code = "too_many_requests"


class TooManyScans(TooManyRequests):
    code = "too_many_scans"


class Unavailable(ShopError):
    status = 503
    code = "unavailable"


class KafkaUnavailable(Unavailable):
    code = "kafka_unavailable"


class RegistryUnavailable(Unavailable):
    code = "schema_registry_unavailable"


class Rebalancing(Unavailable):
    """The order's partition is moving between instances, or its owner has not caught up."""

    code = "rebalancing"


class PoisonEvent(Exception):
    """A record whose bytes are not an order event we can decode; the consumer skips it."""


class StartupError(RuntimeError):
    """The service cannot start; the message is the one line ``python -m shop`` prints."""
