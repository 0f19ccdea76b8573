"""Small builders for domain tests."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backoffice.billto import BilltoHierarchy
from backoffice.model import (
    Address, BatchOption, BilltoNode, Contact, EntityType, FeeKind, FeeRealized, InvoicingMode, PayCode, Placement,
    PlacementType, TimesheetApproval, TimesheetEntry,
)

D = Decimal
T = "t1"
WEEK_END = dt.date(2026, 11, 22)   # a Sunday


def node(entity_id, kind=EntityType.COMPANY, parent=None, name=None, contact=None, mode=InvoicingMode.SEMI_AUTOMATIC,
         tax=D("0"), currency="USD", terms=30):
    return BilltoNode(T, kind, entity_id, parent, name, contact, Address("1 Main St", city="Austin", region="TX"),
                      mode, terms, tax, None, currency, 1)


def hierarchy(**over) -> BilltoHierarchy:
    """Company co (no name) -> client cl (Account Name 'Acme') -> office of (no name)."""
    nodes = [node("co", contact=Contact("Co AP", "ap@co.example")),
             node("cl", EntityType.CLIENT, "co", name=over.get("client_name", "Acme"), mode=over.get("mode", InvoicingMode.SEMI_AUTOMATIC),
                  tax=over.get("tax", D("0.0825"))),
             node("of", EntityType.OFFICE, "cl")]
    return BilltoHierarchy(nodes)


def placement(pid="p1", ptype=PlacementType.TEMP, option=BatchOption.ACCOUNT, po=None, rates=None, office="of",
              contact=None, version=1, **kw) -> Placement:
    if rates is None:
        rates = ((PayCode.REG, D("40.00")), (PayCode.OT, D("60.00")))
    return Placement(T, pid, ptype, "Ava Chen", "co", "cl", office, option, po, contact, bill_rates=rates,
                     start_date=dt.date(2026, 9, 7), version=version, **kw)


def timesheet(tid="ts1", pid="p1", week_ending=WEEK_END, version=1, reg="40", ot="0", dt_hours="0"):
    entries = [TimesheetEntry(week_ending - dt.timedelta(days=6), PayCode.REG, D(reg))]
    if D(ot):
        entries.append(TimesheetEntry(week_ending - dt.timedelta(days=5), PayCode.OT, D(ot)))
    if D(dt_hours):
        entries.append(TimesheetEntry(week_ending, PayCode.DT, D(dt_hours)))
    return TimesheetApproval(T, f"e-{tid}-{version}", tid, pid, week_ending, tuple(entries),
                             dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc), version, "Jo")


def fee(fid="f1", pid="p1", qty="1", price="15000.00", effective=dt.date(2026, 11, 20), kind=FeeKind.PLACEMENT_FEE,
        taxable=False, version=1):
    return FeeRealized(T, f"e-{fid}", fid, pid, kind, "Placement fee", D(qty), D(price), effective, taxable, None, version)
