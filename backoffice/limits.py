"""Plausibility limits: what no real agency bills, refused before it touches a ledger.

Pure: the limits come in as a parameter object (the workers build it from their settings),
`today` is the worker's clock. Each check raises a named ImplausibleInput subclass, which
the workers dead-letter with its code; nothing here reads a clock or the environment.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from backoffice.errors import DateOutOfRange, ImplausibleAmount, ImplausibleHours, ImplausibleTerms
from backoffice.model import BilltoNode, CreditMemoRequest, FeeRealized, Placement, TimesheetApproval

HOURS_PER_DAY = Decimal(24)
HOURS_PER_WEEK = Decimal(168)


@dataclass(frozen=True, slots=True)
class Limits:
    """The ceilings; the defaults are the settings' defaults (infra.settings)."""

    max_rate: Decimal = Decimal("100000")           # per hour or per unit
    max_amount: Decimal = Decimal("100000000")      # one line, one fee, one credit
    max_quantity: Decimal = Decimal("100000")       # units of one fee
    date_span_days: int = 3660                      # business dates within today +- this
    max_net_terms_days: int = 365
    max_tax_rate: Decimal = Decimal(1)              # 100 %


DEFAULT = Limits()


def check_date(value: dt.date | None, today: dt.date, limits: Limits, what: str) -> None:
    """A business date within the configured span around the worker's today."""
    if value is None:
        return
    span = dt.timedelta(days=limits.date_span_days)
    low = today - span if today - dt.date.min > span else dt.date.min      # no OverflowError near year 1
    high = today + span if dt.date.max - today > span else dt.date.max     # ... nor near 9999
    if not low <= value <= high:
        raise DateOutOfRange(f"{what} {value.isoformat()} is outside {low.isoformat()}..{high.isoformat()} "
                             f"({limits.date_span_days} days around {today.isoformat()})")


def _money(value: Decimal, ceiling: Decimal, what: str) -> None:
    if not value.is_finite() or abs(value) > ceiling:
        raise ImplausibleAmount(f"{what} {value} is above the ceiling {ceiling}")


def check_timesheet(approval: TimesheetApproval, today: dt.date, limits: Limits = DEFAULT) -> None:
    """At most 24 hours a day and 168 a week (all pay codes together); the week within the span."""
    name = f"timesheet {approval.timesheet_id}"
    check_date(approval.week_ending, today, limits, f"{name}: week ending")
    per_day: dict[dt.date, Decimal] = {}
    for entry in approval.entries:
        per_day[entry.work_date] = per_day.get(entry.work_date, Decimal(0)) + entry.hours
    for day in sorted(per_day):
        if per_day[day] > HOURS_PER_DAY:
            raise ImplausibleHours(f"{name}: {per_day[day]} hours on {day.isoformat()} (a day has {HOURS_PER_DAY})")
    week = sum(per_day.values(), Decimal(0))
    if week > HOURS_PER_WEEK:
        raise ImplausibleHours(f"{name}: {week} hours in the week ending {approval.week_ending.isoformat()} "
                               f"(a week has {HOURS_PER_WEEK})")


def check_placement(placement: Placement, today: dt.date, limits: Limits = DEFAULT) -> None:
    name = f"placement {placement.placement_id}"
    for code, rate in placement.bill_rates:
        _money(rate, limits.max_rate, f"{name}: {code.value} bill rate")
    check_date(placement.start_date, today, limits, f"{name}: start date")
    check_date(placement.end_date, today, limits, f"{name}: end date")


def check_fee(fee: FeeRealized, today: dt.date, limits: Limits = DEFAULT) -> None:
    name = f"fee {fee.fee_id}"
    if fee.quantity > limits.max_quantity:
        raise ImplausibleAmount(f"{name}: quantity {fee.quantity} is above the ceiling {limits.max_quantity}")
    _money(fee.unit_price, limits.max_rate, f"{name}: unit price")
    _money(fee.quantity * fee.unit_price, limits.max_amount, f"{name}: amount")
    check_date(fee.effective_date, today, limits, f"{name}: effective date")


def check_billto(node: BilltoNode, limits: Limits = DEFAULT) -> None:
    name = f"{node.entity_type.value} {node.entity_id}"
    if not 0 <= node.net_terms_days <= limits.max_net_terms_days:
        raise ImplausibleTerms(f"{name}: net terms of {node.net_terms_days} days (at most "
                               f"{limits.max_net_terms_days})")
    if not node.tax_rate.is_finite() or node.tax_rate > limits.max_tax_rate:
        raise ImplausibleAmount(f"{name}: tax rate {node.tax_rate} is above {limits.max_tax_rate}")


def check_credit(request: CreditMemoRequest, today: dt.date, limits: Limits = DEFAULT) -> None:
    _money(request.amount, limits.max_amount, f"credit {request.request_id}: amount")
    check_date(request.effective_date, today, limits, f"credit {request.request_id}: date")


def check_dates(values: Iterable[tuple[str, dt.date | None]], today: dt.date, limits: Limits = DEFAULT) -> None:
    for what, value in values:
        check_date(value, today, limits, what)
