"""The plain log format (pure, no broker)."""

from __future__ import annotations

import logging

from shop.observability.logs import PlainFormatter

LOGGING_DEFAULT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def test_plain_lines_read_as_loggings_default_format() -> None:
    """Formatting each second's time once changes no line: records within one second, across a
    second's edge and far apart read exactly as logging's own formatter writes them."""
    formatter = PlainFormatter()
    for created in (1_764_186_000.0004, 1_764_186_000.9996, 1_764_186_001.5, 1_000_000_000.25):
        record = logging.LogRecord("shop.cart", logging.INFO, "", 0, "POST %s", ("/x",), None)
        record.created = created
        record.msecs = (created - int(created)) * 1000
        assert formatter.format(record) == LOGGING_DEFAULT.format(record)
