"""How amounts, quantities and dates print on a business document."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backoffice.figures import rate_places
from backoffice.money import round_cents


def money(value: Decimal) -> str:
    """Grouped, two decimals, leading minus: -1,234.50."""
    return f"{round_cents(Decimal(value)):,.2f}"


def rate(value: Decimal) -> str:
    """A unit rate: two decimals, or every decimal it has when more (27.3333), so that the printed
    quantity x the printed rate is the printed amount (backoffice.figures.rate_places)."""
    value = Decimal(value)
    return f"{value:,.{rate_places(value)}f}"


def quantity(value: Decimal) -> str:
    """Whole numbers as such (1), fractions with at least two decimals (37.50, 0.125)."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    exponent = -value.normalize().as_tuple().exponent  # type: ignore[operator]
    return f"{value:,.{max(2, exponent)}f}"


def date(value: dt.date | None) -> str:
    return value.strftime("%b %d, %Y") if value else ""


def short_date(value: dt.date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else ""


FILTERS = {"money": money, "rate": rate, "quantity": quantity, "date": date, "short_date": short_date}
