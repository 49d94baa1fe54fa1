"""Percentiles of latency samples, the way wrk reports them (nearest rank)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The smallest sample with at least ``fraction`` of the samples at or below it."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def histogram_percentile(counts: Mapping[int, int], fraction: float) -> float:
    """The same over a histogram: the smallest value with at least ``fraction`` of the counts at
    or below it."""
    total = sum(counts.values())
    if not total:
        return math.nan
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            break
    return float(value)
