"""Request bodies of the cart, parsed and checked into typed commands (400 naming each field)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from shop.errors import InvalidRequest, UnsupportedMediaType, echo
from shop.order import (
    MAX_ITEMS,
    MIN_ITEMS,
    STATUS_RULE,
    OrderId,
    OrderStatus,
    order_id_problem,
)

ITEMS_COUNT_RULE = f"must be a whole number from {MIN_ITEMS} to {MAX_ITEMS}"
# An invalid body's answer names at most this many fields (the first by name) and counts the rest:
# a body of 90,000 unknown keys must not get an answer several times its size.
MAX_LISTED_FIELDS = 20
SEND_JSON = "send Content-Type: application/json"


class CreateOrder(msgspec.Struct, frozen=True, gc=False):
    order_id: OrderId
    items_count: int


class UpdateOrder(msgspec.Struct, frozen=True, gc=False):
    order_id: OrderId
    status: OrderStatus


async def _read_declared_json(request: web.Request) -> bytes:
    """The body's bytes: 415 unless it is declared JSON in an encoding the service decodes."""
    _check_content_type(request)
    _check_content_encoding(request)
    return await _read_body(request)


def _json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object: 400 unless it is one."""
    body = _parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidRequest('the body must be a JSON object, e.g. {"orderId": "ORDER-123"}')
    return body


# What aiohttp decompresses (br with Brotli, zstd with backports.zstd, both dependencies). Any other
# encoding it would hand over still compressed, to fail as JSON with a misleading message.
CONTENT_ENCODINGS = ("identity", "gzip", "deflate", "br", "zstd")


def _check_content_encoding(request: web.Request) -> None:
    """A body in an encoding the service cannot decode is a 415, as HTTP says (RFC 9110 15.5.16)."""
    declared = request.headers.get("Content-Encoding", "").strip().lower()
    if not declared:  # nearly every request
        return
    for coding in filter(None, (part.strip() for part in declared.split(","))):
        if coding not in CONTENT_ENCODINGS:
            raise UnsupportedMediaType(
                f"the body's Content-Encoding {echo(coding)} is not supported; send plain JSON "
                "or one of " + ", ".join(CONTENT_ENCODINGS)
            )


def _check_content_type(request: web.Request) -> None:
    """JSON is application/json or application/*+json. A missing or empty Content-Type, or
    application/octet-stream (which aiohttp also reports for a missing one), declares no type: 415.
    A body declared as some other type keeps its 400."""
    if not request.headers.get("Content-Type", "").strip():
        raise UnsupportedMediaType(f"the request has no Content-Type; {SEND_JSON}")
    content_type = request.content_type
    if content_type == "application/octet-stream":
        raise UnsupportedMediaType(
            f"the body is declared as application/octet-stream, untyped bytes; {SEND_JSON}"
        )
    if content_type != "application/json" and not (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        raise InvalidRequest(f"the body must be JSON, not {echo(content_type)}; {SEND_JSON}")


async def _read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except RequestPayloadError:
        # A body announced as gzip (say) that does not decompress, or shorter than announced.
        encoding = request.headers.get("Content-Encoding", "identity")
        raise InvalidRequest(
            f"the body cannot be read as sent (Content-Encoding: {echo(encoding)}); send plain JSON"
        ) from None


def _parse_json(raw: bytes) -> object:
    """Strict JSON: no NaN or Infinity literals, no key given twice, nesting Python can follow."""
    try:
        return json.loads(
            raw.decode("utf-8"), parse_constant=_refuse_constant, object_pairs_hook=_unique_keys
        )
    except RecursionError:
        raise InvalidRequest("the body is nested too deeply; send a flat JSON object") from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not valid JSON; send a JSON object") from None


def _refuse_constant(name: str) -> object:
    raise InvalidRequest(f"the body is not valid JSON: {name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) < len(pairs):
        repeated = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
        raise _invalid(
            "keys given more than once", {key: "is given more than once" for key in repeated}
        )
    return body


def _invalid(what: str, problems: Mapping[str, str]) -> InvalidRequest:
    """A 400 naming the fields with ``problems``: the first :data:`MAX_LISTED_FIELDS` by name,
    each name clipped, and how many more there are."""
    names = sorted(problems)
    listed = {echo(name): problems[name] for name in names[:MAX_LISTED_FIELDS]}
    if len(names) <= MAX_LISTED_FIELDS:
        return InvalidRequest(f"the body has {what}: " + ", ".join(listed), listed)
    return InvalidRequest(
        f"the body has {len(names)} {what}; fields lists the first {MAX_LISTED_FIELDS} by name, "
        f"{len(names) - MAX_LISTED_FIELDS} more are not listed",
        listed,
    )


# Why a field's value breaks its rule, or None.
Check = Callable[[object], str | None]


def _checked(body: Mapping[str, Any], rules: Mapping[str, Check]) -> None:
    problems: dict[str, str] = {}
    for field in body.keys() - rules.keys():
        problems[field] = "is not a known field; allowed: " + ", ".join(rules)
    for field, check in rules.items():
        if field not in body:
            problems[field] = "is required"
        elif (problem := check(body[field])) is not None:
            problems[field] = problem
    if problems:
        raise _invalid("invalid fields", problems)


def _check_items_count(value: object) -> str | None:
    # bool is an int in Python, but true is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        return ITEMS_COUNT_RULE
    if not MIN_ITEMS <= value <= MAX_ITEMS:
        return ITEMS_COUNT_RULE
    return None


_STATUSES = frozenset(status.value for status in OrderStatus)


def _check_status(value: object) -> str | None:
    if not isinstance(value, str) or value not in _STATUSES:
        return STATUS_RULE
    return None


_CREATE_RULES: dict[str, Check] = {"orderId": order_id_problem, "itemsCount": _check_items_count}
_UPDATE_RULES: dict[str, Check] = {"orderId": order_id_problem, "status": _check_status}


async def create_order(request: web.Request) -> CreateOrder:
    body = await _read(request, _valid_create)
    return CreateOrder(OrderId(body.orderId), body.itemsCount)


async def update_order(request: web.Request) -> UpdateOrder:
    body = await _read(request, _valid_update)
    return UpdateOrder(OrderId(body.orderId), OrderStatus(body.status))


# The bodies that break no rule, as msgspec's compiled decoder reads them: 3-4 µs less than the
# checks above, which answer every other body.
class _CreateBody(msgspec.Struct, forbid_unknown_fields=True):
    orderId: str
    itemsCount: int


class _UpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    orderId: str
    status: str


_Body = TypeVar("_Body", _CreateBody, _UpdateBody)


class _Valid(Generic[_Body]):
    """Reads a body that is a JSON object of exactly the fields of ``rules``, each breaking none.

    msgspec lets a key given twice pass (the last counts), so a body is only taken here when each
    field's name appears in it once: with no backslash in it, a key can only be spelled as that
    exact text.
    """

    def __init__(self, body: type[_Body], rules: Mapping[str, Check]) -> None:
        self.body: type[_Body] = body
        self.rules = rules
        self._decoder: msgspec.json.Decoder[_Body] = msgspec.json.Decoder(body)
        self._names = tuple(f'"{name}"'.encode() for name in rules)

    def __call__(self, raw: bytes) -> _Body | None:
        """``raw`` decoded, or None for any other body."""
        # Every body taken here is ASCII (the names, an order id, a count or a status), and
        # msgspec raises UnicodeDecodeError, no DecodeError, on a string that is not UTF-8.
        if b"\\" in raw or not raw.isascii():
            return None
        for name in self._names:
            if raw.count(name) != 1:
                return None
        try:
            body = self._decoder.decode(raw)
        except msgspec.DecodeError:  # a ValidationError too
            return None
        for field, check in self.rules.items():
            if check(getattr(body, field)) is not None:
                return None
        return body


_valid_create = _Valid(_CreateBody, _CREATE_RULES)
_valid_update = _Valid(_UpdateBody, _UPDATE_RULES)


async def _read(request: web.Request, valid: _Valid[_Body]) -> _Body:
    """The body of a command: taken by ``valid`` when it breaks no rule, else checked strictly
    (a 400 naming each field)."""
    raw = await _read_declared_json(request)
    if (body := valid(raw)) is not None:
        return body
    fields = _json_object(raw)
    _checked(fields, valid.rules)
    return valid.body(**fields)
