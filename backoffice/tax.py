"""Tax: computed once per invoice on its taxable lines at the Billto's rate, rounded once."""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from backoffice.model import InvoiceLine
from backoffice.money import ZERO, round_cents


def invoice_totals(lines: Iterable[InvoiceLine], rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(subtotal, tax, total): subtotal = sum of line amounts, tax rounded half-up once."""
    subtotal = ZERO
    taxable = ZERO
    for line in lines:
        subtotal += line.amount
        if line.taxable:
            taxable += line.amount
    tax = round_cents(taxable * rate)
    return subtotal, tax, subtotal + tax
