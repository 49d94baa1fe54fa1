"""The registry's ids and names, as distinct types."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

Subject = NewType("Subject", str)
SchemaId = NewType("SchemaId", int)
Version = NewType("Version", int)


class Compatibility(StrEnum):
    """Confluent's compatibility levels; BACKWARD is the default."""

    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"


DEFAULT_COMPATIBILITY = Compatibility.BACKWARD
