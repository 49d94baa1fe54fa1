"""Random ids, drawn without a system call each: event ids and generated request ids.

``uuid.uuid4()`` reads 16 bytes from the system per call (2.7 µs, and a system call per create).
These come from one generator seeded from the system once per process (and again in a forked
child, which would otherwise repeat its parent's ids): as unique as uuid4's, but predictable to
whoever sees enough of them, which ids that are no secret may be.
"""

from __future__ import annotations

import os
import random
import secrets

_generator = random.Random()
# The version (4) and variant (10) bits of a random UUID, as RFC 9562 sets them.
_CLEARED = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)


def _seed() -> None:
    _generator.seed(secrets.randbits(128))


_seed()
os.register_at_fork(after_in_child=_seed)


def random_uuid() -> str:
    """A random (version 4) UUID as text: ``"1b4e28ba-2fa1-41d2-883f-0016d3cca427"``."""
    text = f"{_generator.getrandbits(128) & _CLEARED | _SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def random_hex(digits: int) -> str:
    """``digits`` random hexadecimal digits."""
    return f"{_generator.getrandbits(4 * digits):0{digits}x}"
