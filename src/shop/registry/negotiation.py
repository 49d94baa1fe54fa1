"""Which media type an answer is sent as, chosen from the request's ``Accept`` like Confluent's.

Confluent's resources produce ``application/vnd.schemaregistry.v1+json`` (quality 1),
``application/vnd.schemaregistry+json`` (``qs=0.9``) and ``application/json`` (``qs=0.5``), and
JAX-RS picks the type the client rates highest, the server's own preference breaking ties. A
client that accepts none of them (``application/vnd.schemaregistry.v2+json``, say) gets 406.
"""

from __future__ import annotations

from functools import lru_cache

V1_JSON = "application/vnd.schemaregistry.v1+json"
DEFAULT_JSON = "application/vnd.schemaregistry+json"
JSON = "application/json"
# the types answers can be sent as, most preferred first, with the server's quality
PRODUCED = ((V1_JSON, 1.0), (DEFAULT_JSON, 0.9), (JSON, 0.5))


@lru_cache(maxsize=256)
def response_type(accept: str | None) -> str | None:
    """The media type to answer a request with this ``Accept`` header; ``None``: none fits."""
    if accept is None or not accept.strip():
        return V1_JSON
    ranges = [parsed for part in accept.split(",") if (parsed := _media_range(part)) is not None]
    best, best_rank = None, (0.0, 0.0)
    for media_type, server_quality in PRODUCED:
        quality = _client_quality(ranges, media_type)
        if quality > 0 and (quality, server_quality) > best_rank:
            best, best_rank = media_type, (quality, server_quality)
    return best


def _media_range(part: str) -> tuple[str, float] | None:
    """``type/subtype`` in lower case and its ``q``; ``None`` for a part that is not a range."""
    media_range, *parameters = (piece.strip() for piece in part.split(";"))
    if media_range.count("/") != 1:
        return None
    quality = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = min(max(float(value), 0.0), 1.0)
            except ValueError:
                return None
    return media_range.lower(), quality


def _client_quality(ranges: list[tuple[str, float]], media_type: str) -> float:
    """The client's ``q`` for ``media_type``, from the most specific range that covers it."""
    kind = media_type.split("/")[0]
    for candidate in (media_type, f"{kind}/*", "*/*"):
        qualities = [quality for media_range, quality in ranges if media_range == candidate]
        if qualities:
            return max(qualities)
    return 0.0
