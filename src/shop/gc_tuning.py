"""How the service tunes CPython's cyclic garbage collector, for serving and for rebuilding."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# CPython collects its youngest generation every 700 allocations, several times per request here,
# and the whole heap, the order view included, each time it grew by a quarter. Measured under
# create-order load: ~30 % of the service's CPU and its p99 tail. Young collections every 50,000
# allocations still reclaim short-lived cycles; full ones become rare. Acyclic garbage (nearly
# all of it) is freed by reference counting whatever the thresholds.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_for_serving() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


@contextlib.contextmanager
def paused_then_frozen() -> Iterator[None]:
    """No cyclic garbage collection while the view is rebuilt, then freeze what it holds.

    Each collection walks every tracked object, and the view holds a few per order: during a
    100,000-event replay that walking grew to most of the cost per event. Replaying makes almost
    no cyclic garbage. Afterwards one collection, then ``gc.freeze()``: the rebuilt view moves to
    the permanent generation and later collections skip it.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
        gc.freeze()
