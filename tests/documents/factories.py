"""Invoices, credit memos, placements and approvals built straight from backoffice.model."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backoffice.model import (
    Address, Contact, DocumentKind, Invoice, InvoiceLine, InvoicingMode, LineCategory, PayCode, Placement,
    PlacementType, TimesheetApproval, TimesheetEntry,
)
from backoffice.money import line_amount, round_cents
from documents.profile import AgencyProfile, Party

WEEK_END = dt.date(2026, 3, 15)


def agency(tenant_id: str = "t1", **overrides) -> AgencyProfile:
    values = dict(
        tenant_id=tenant_id,
        company=Party(
            "Northwind Staffing LLC",
            Address("400 Market Street", "Suite 1200", "Philadelphia", "PA", "19106", "USA"),
            "(215) 555-0100", "billing@northwind.example",
        ),
        remit_to=Party(
            "Northwind Staffing LLC - Lockbox",
            Address("PO Box 78123", "", "Philadelphia", "PA", "19178", "USA"),
            "(215) 555-0199", "ar@northwind.example",
        ),
    )
    values.update(overrides)
    return AgencyProfile(**values)


def line(n: int, description: str, quantity: str, rate: str, *, placement_id: str = "P-100",
         pay_code: str | None = "REG", category=LineCategory.TIMESHEETS) -> InvoiceLine:
    q, r = Decimal(quantity), Decimal(rate)
    return InvoiceLine(
        line_id=f"L-{n}", pay_line_id=f"PL-{n}", placement_id=placement_id, description=description,
        quantity=q, rate=r, amount=line_amount(q, r), taxable=True, category=category, pay_code=pay_code,
        work_date=WEEK_END,
    )


def invoice(lines: tuple[InvoiceLine, ...] | None = None, *, kind=DocumentKind.INVOICE, account_name="Globex Corporation",
            number="INV-1001", tax_rate="0.0625", invoice_id="inv-1", contact_email="ap@globex.example",
            mode=InvoicingMode.SEMI_AUTOMATIC, tenant_id="t1") -> Invoice:
    if lines is None:
        lines = (
            line(1, "Jane Doe - Warehouse Associate - Regular hours w/e 03/15/2026", "40", "25.50"),
            line(2, "Jane Doe - Warehouse Associate - Overtime hours w/e 03/15/2026", "6.5", "38.25", pay_code="OT"),
            line(3, "Placement fee - John Smith, Senior Accountant", "1", "18500.00", placement_id="P-200",
                 pay_code=None, category=LineCategory.PRODUCTS_SERVICES),
        )
    subtotal = sum((ln.amount for ln in lines), Decimal("0.00"))
    tax = round_cents(subtotal * Decimal(tax_rate))
    return Invoice(
        tenant_id=tenant_id, invoice_id=invoice_id, batch_id="B-1", kind=kind, account_id="ACC-1",
        account_name=account_name, grouping_key="ACC-1", currency="USD", lines=tuple(lines), subtotal=subtotal,
        tax=tax, total=subtotal + tax, tax_rate=Decimal(tax_rate), issue_date=dt.date(2026, 3, 17),
        due_date=dt.date(2026, 4, 16), period_start=dt.date(2026, 3, 9), period_end=WEEK_END, net_terms_days=30,
        invoicing_mode=mode, number=number,
        bill_to_contact=Contact("Alice Payable", contact_email, "(312) 555-0142"),
        bill_to_address=Address("1 Globex Plaza", "", "Chicago", "IL", "60601", "USA"),
        purchase_order="PO-7788",
    )


def credit_memo(**kwargs) -> Invoice:
    lines = (
        line(1, "Placement fee credit - John Smith falloff (60-day guarantee)", "1", "-9250.00",
             placement_id="P-200", pay_code=None, category=LineCategory.PRODUCTS_SERVICES),
    )
    values = dict(kind=DocumentKind.CREDIT_MEMO, number="CM-2001", tax_rate="0", invoice_id="cm-1")
    values.update(kwargs)
    return invoice(lines, **values)


def many_lines(count: int) -> tuple[InvoiceLine, ...]:
    return tuple(
        line(i, f"Worker {i:03d} - Light Industrial - Regular hours w/e 03/15/2026", "40", f"{20 + i % 15}.75",
             placement_id=f"P-{i:03d}")
        for i in range(1, count + 1)
    )


def temp_placement(placement_id: str = "P-100") -> Placement:
    return Placement(
        tenant_id="t1", placement_id=placement_id, placement_type=PlacementType.TEMP, candidate_name="Jane Doe",
        company_id="C-1", client_id="ACC-1", office_id=None,
        bill_rates=((PayCode.REG, Decimal("25.50")), (PayCode.OT, Decimal("38.25"))),
        job_title="Warehouse Associate",
    )


def approval(placement_id: str = "P-100", version: int = 1) -> TimesheetApproval:
    days = [WEEK_END - dt.timedelta(days=d) for d in range(6, 1, -1)]  # Mon..Fri
    entries = tuple(TimesheetEntry(day, PayCode.REG, Decimal("8")) for day in days)
    entries += (TimesheetEntry(days[2], PayCode.OT, Decimal("2.5")), TimesheetEntry(days[4], PayCode.OT, Decimal("4")))
    return TimesheetApproval(
        tenant_id="t1", event_id=f"ev-{placement_id}-{version}", timesheet_id=f"TS-{placement_id}",
        placement_id=placement_id, week_ending=WEEK_END, entries=entries,
        approved_at=dt.datetime(2026, 3, 16, 9, 30, tzinfo=dt.UTC), version=version, approver="Maria Manager",
    )
