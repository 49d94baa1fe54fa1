"""The cart's two readings of a request body agree: the compiled one takes only bodies that the
strict checks accept, and reads them as those do."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from shop.cart import requests
from shop.errors import InvalidRequest

ORDER_IDS = ["ORDER-1", "a", "A" * 64, "A" * 65, "", "-x", "ORDER 1", "ORDÉR", "orderId", 7, None]
COUNTS: list[Any] = [1, 3, 100, 0, 101, -1, True, 3.0, "3", 10**30, None, [3]]
STATUSES: list[Any] = ["confirmed", "new", "CONFIRMED", "", 1, None, "cancelled"]


def _strict(raw: bytes, rules: dict[str, Any]) -> dict[str, Any] | None:
    try:
        body = requests._json_object(raw)
        requests._checked(body, rules)
    except InvalidRequest:
        return None
    return body


def _bodies(rng: random.Random, second: str, values: list[Any]) -> list[bytes]:
    """Valid bodies, and bodies a field, a key, a value or the text around them spoils."""
    bodies = []
    for _ in range(3_000):
        fields: list[tuple[str, Any]] = [
            ("orderId", rng.choice(ORDER_IDS)),
            (second, rng.choice(values)),
        ]
        rng.shuffle(fields)
        spoil = rng.randrange(10)
        if spoil == 0:
            fields.append(rng.choice(fields))  # a key given twice
        elif spoil == 1:
            fields.append((rng.choice(["extra", "orderid", second.upper()]), 1))
        elif spoil == 2:
            fields.pop(rng.randrange(len(fields)))
        text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in fields) + "}"
        if spoil == 3:  # a key spelled with an escape
            text = text.replace('"orderId"', '"\\u006frderId"', 1)
        elif spoil == 4:
            text = text.replace("}", "} x")
        elif spoil == 5:
            text = text.replace(":", ': NaN, "n":', 1)
        elif spoil == 6:
            text = f"[{text}]"
        elif spoil == 7:
            text = text.replace("{", '{"nested": {"orderId": "B"}, ', 1)
        bodies.append(("\ufeff" if rng.random() < 0.01 else "") + text)
    encoded = [body.encode() for body in bodies]
    # And bytes that are no UTF-8, in a value, in a key and outside any string.
    return encoded + [
        body.replace(b'"ORDER-1"', b'"\xff"').replace(b'"a"', b'"a\xc3"').replace(b"{", b"{\x80", 1)
        for body in encoded[:300]
    ]


@pytest.mark.parametrize(
    ("valid", "second", "values", "rules"),
    [
        (requests._valid_create, "itemsCount", COUNTS, requests._CREATE_RULES),
        (requests._valid_update, "status", STATUSES, requests._UPDATE_RULES),
    ],
)
def test_the_compiled_reading_takes_only_what_the_strict_checks_accept(
    valid: Callable[[bytes], Any], second: str, values: list[Any], rules: dict[str, Any]
) -> None:
    """Over 3,000 bodies, valid and spoiled, a body read by msgspec reads the same strictly."""
    taken = 0
    for raw in _bodies(random.Random(second), second, values):
        fast = valid(raw)
        strict = _strict(raw, rules)
        if fast is not None:
            taken += 1
            assert strict == {"orderId": fast.orderId, second: getattr(fast, second)}, raw
    assert taken > 20


def test_a_body_that_is_no_utf_8_is_left_to_the_strict_checks() -> None:
    """msgspec raises no DecodeError on such bytes in a string: they never reach it."""
    for body in (b'{"orderId":"\xff","itemsCount":1}', b'{"orderId":"A","itemsCount":1,"x\xff":1}'):
        assert requests._valid_create(body) is None
        with pytest.raises(InvalidRequest, match="not valid JSON"):
            requests._json_object(body)


def test_a_plain_valid_body_is_read_by_msgspec() -> None:
    """The bodies clients send are taken by the compiled reading, not only the strict one."""
    assert requests._valid_create(b'{"orderId": "ORDER-1", "itemsCount": 3}') is not None
    assert requests._valid_update(b'{"status":"shipped","orderId":"o.1"}') is not None
