"""Logging set-up: plain lines for a terminal, or one JSON object per line (``--log-format json``).

In JSON, every record logged while a request is answered carries its request id. The client
libraries' routine INFO lines (aiokafka's group joins and coordinator look-ups, each registry
request of httpx) are noise beside the service's own; they show at DEBUG.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from datetime import UTC, datetime

from aiohttp.http_exceptions import HttpProcessingError

JSON = "json"

# Whether records need their fields as ``extra`` attributes: JSON lines carry them, plain lines show
# only the message (and setting five attributes on a record is a third of a request line's cost).
# True until configure() says otherwise, for whatever handler an embedding program installed.
_fields_wanted = True

# The id of the request being answered, for every record logged meanwhile.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_CHATTY = ("aiokafka", "httpx", "schema_registry")
# Attributes every LogRecord has; anything else was passed in ``extra`` and goes into the JSON.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class _MalformedRequests(logging.Filter):
    """aiohttp answers a request it cannot parse (a bad header, say) with its own 400 before any
    of the service's code runs, and logs it at ERROR with a traceback: a client's mistake, which
    anyone can send, is one INFO line here."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "malformed HTTP request from %s answered %d: %s"
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            first_line = (error.message.strip().splitlines() or [""])[0]
            record.args = (remote, error.code, first_line)
            record.exc_info = record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Formatting happens where the record was logged, in the context of its request.
        if (current := request_id.get()) is not None:
            entry["request_id"] = current
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    """``time level logger: message``, the time as logging's default writes it
    (``2026-11-26 19:40:00,123``), formatted once per second rather than once per record (every
    request logs a line; ``strftime`` was a sixth of its cost)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        whole = int(record.created)
        second, text = self._second
        if whole != second:
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (whole, text)  # one assignment: a thread sees the old or the new pair
        return f"{text},{int(record.msecs):03d}"  # logging's default_msec_format


def fields_wanted() -> bool:
    """Whether a record's ``extra`` fields reach the log (they do in JSON lines)."""
    return _fields_wanted


def configure(level: str, log_format: str) -> None:
    """Send every record at ``level`` or above to stderr in ``log_format``."""
    global _fields_wanted
    _fields_wanted = log_format == JSON
    handler = logging.StreamHandler(sys.stderr)
    if log_format == JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(PlainFormatter())
    # No record of ours shows its thread, process or source line: not gathering them saves a
    # fifth of each request's log line (the logging HOWTO's "Optimization" section).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.server").addFilter(_MalformedRequests())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
