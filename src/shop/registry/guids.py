"""Confluent's schema guid: the MD5 of the stored schema text, written as a UUID.

Confluent's ``Schema.getGuid`` hashes the text (then references, metadata and rule sets, which
this registry does not keep), so the same text has the same guid in every registry.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from functools import lru_cache

# as Confluent's MD5.fromString reads one: a UUID's usual form, or its 32 hex digits
GUID = re.compile(
    r"[0-9a-fA-F]{8}(-?)[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}\1[0-9a-fA-F]{12}"
)


@lru_cache(maxsize=4096)
def guid(text: str) -> str:
    return str(uuid.UUID(bytes=hashlib.md5(text.encode()).digest()))


def parse_guid(text: str) -> str | None:
    """A guid as clients send it (with or without dashes) in the form :func:`guid` writes it."""
    if not GUID.fullmatch(text):
        return None
    return str(uuid.UUID(hex=text))
