"""Random ids drawn without a system call each (pure, no broker)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

from shop.ids import random_hex, random_uuid


def test_random_uuids_are_version_4_and_distinct() -> None:
    """Event ids read as random (version 4, RFC variant) UUIDs, in their canonical text."""
    drawn = [random_uuid() for _ in range(10_000)]
    assert len(set(drawn)) == len(drawn)
    for text in drawn[:1_000]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


def test_random_hex_has_the_digits_asked_for() -> None:
    """Request ids are 32 hex digits, leading zeros kept, and do not repeat."""
    drawn = [random_hex(32) for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", text) for text in drawn)
    assert len(set(drawn)) == len(drawn)


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    """The generator is seeded again in a forked child, which would otherwise repeat the
    parent's ids. (Forked in a process of its own: pytest's may run threads, which fork warns
    about on newer Pythons.)"""
    answer = subprocess.run(
        [sys.executable, "-c", FORK_AND_DRAW], capture_output=True, text=True, check=True
    )
    parent, child = answer.stdout.split()
    assert uuid.UUID(child).version == 4
    assert child != parent


FORK_AND_DRAW = """
import os
from shop.ids import random_uuid

read, write = os.pipe()
if os.fork() == 0:
    os.write(write, random_uuid().encode())
    os._exit(0)
os.close(write)
child = os.read(read, 64).decode()
os.wait()
print(random_uuid(), child)
"""
