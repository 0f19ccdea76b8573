"""Money arithmetic: Decimal only, half-up to the cent where a rule says so.

Floats never touch an amount. Rounding happens at line level (quantity x rate)
and once per invoice for tax, never on intermediate sums.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    """An amount that cannot be used as money (NaN, infinite, not a number)."""


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Parse an exact decimal; floats are refused because they are not exact."""
    if isinstance(value, float):
        raise MoneyError(f"refusing float {value!r}: pass a str or Decimal")
    try:
        result = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise MoneyError(f"not a decimal amount: {value!r}") from exc
    if not result.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return result


def cents(value: Decimal | int | str) -> Decimal:
    """An amount someone typed: exact to the cent or refused (10.005 is not silently 10.00 or 10.01)."""
    result = to_decimal(value)
    if result != result.quantize(CENT):
        raise MoneyError(f"{value!r} has more decimals than cents")
    return result.quantize(CENT)


def round_cents(value: Decimal) -> Decimal:
    """Half-up to the cent: 0.005 -> 0.01, -0.005 -> -0.01 (away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, rate: Decimal) -> Decimal:
    """A line's amount: quantity x rate rounded once, half-up, to the cent."""
    return round_cents(quantity * rate)
