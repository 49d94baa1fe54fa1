"""Money as :class:`~decimal.Decimal`: cents, sums and the shipping rule. No float ever."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SHIPPING_RATE = Decimal("0.02")


def to_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded half-up to whole cents (two decimals, always)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def from_cents(cents: int) -> Decimal:
    """An integer number of cents as an amount with two decimals (exact: the product of an integer
    and 0.01 has its digits, and the context's 28 digits hold any order's cents; 30 % cheaper
    than ``scaleb``)."""
    return Decimal(cents) * CENT


def total(amounts: Iterable[Decimal]) -> Decimal:
    return to_cents(sum(amounts, Decimal(0)))


def shipping_cost(total_amount: Decimal) -> Decimal:
    """2 % of the order total, rounded half-up to cents: 150.50 -> 3.01."""
    return to_cents(total_amount * SHIPPING_RATE)
