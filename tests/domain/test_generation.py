import ast
import datetime as dt
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from backoffice.billto import BilltoHierarchy
from backoffice.consolidation import consolidate_into
from backoffice.errors import MixedCurrency, NotConsolidatable
from backoffice.generation import GenerationRequest, generate_invoices, pending_amounts
from backoffice.health import Severity, health_check
from backoffice.model import (
    Contact, EntityType, InvoicingMode, LineCategory, PayCode, PayLine, PayLineSource, PlacementStatus,
)
from backoffice.numbering import TenantSequence
from tests.domain.factories import D, hierarchy, node, placement

DAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 24, 19, tzinfo=dt.timezone.utc)


def line(pid, n, amount="100.00", source=PayLineSource.FEE, code=None):
    return PayLine("t1", f"t1:{pid}|L{n}", pid, source, f"item {n}", D(1), D(amount), D(amount), DAY, DAY, True,
                   pay_code=code)


def request(**kw):
    base = dict(tenant_id="t1", batch_key="WEEKLY:2026-11-22", issue_date=dt.date(2026, 11, 24),
                period_start=DAY - dt.timedelta(days=6), period_end=DAY, created_at=NOW)
    base.update(kw)
    return GenerationRequest(**base)


def test_generation_numbers_from_one_more_than_last_and_builds_the_batch():
    ps = {"p1": placement("p1")}
    res = generate_invoices([line("p1", 1, "10.00", PayLineSource.TIMESHEET, PayCode.REG), line("p1", 2, "5.00")],
                            ps, hierarchy(), TenantSequence("t1", 41), request())
    assert res.report.ok and len(res.invoices) == 1
    assert res.invoices[0].number == "42" and res.sequence.last_number == 42
    assert res.batch.amount_timesheets == D("10.00") and res.batch.amount_products_services == D("5.00")
    assert res.batch.invoice_count == 1 and res.batch.first_number == res.batch.last_number == "42"
    assert set(res.assignments) == {"t1:p1|L1", "t1:p1|L2"}


def test_health_errors_block_generation():
    no_name = BilltoHierarchy([node("co"), node("cl", EntityType.CLIENT, "co"), node("of", EntityType.OFFICE, "cl")])
    res = generate_invoices([line("p1", 1)], {"p1": placement("p1")}, no_name, TenantSequence("t1"), request())
    assert res.blocked and not res.invoices and res.report.errors[0].code == "NO_BILLTO"
    assert res.left_pending == ("t1:p1|L1",)


def test_missing_bill_rate_is_an_error():
    p = placement("p1", rates=((PayCode.REG, D("40")),))
    report = health_check([line("p1", 1, source=PayLineSource.TIMESHEET, code=PayCode.DT)], {"p1": p}, hierarchy())
    assert [f.code for f in report.errors] == ["MISSING_BILL_RATE"]


def euro_client():
    """A EUR client Billto under a USD company, with a (default USD) office below it."""
    return BilltoHierarchy([node("co"), node("cl", EntityType.CLIENT, "co", name="Euro GmbH", currency="EUR"),
                            node("of", EntityType.OFFICE, "cl")])


def test_a_eur_billto_under_a_usd_company_invoices_in_eur():
    res = generate_invoices([line("p1", 1)], {"p1": placement("p1")}, euro_client(), TenantSequence("t1"), request())
    assert res.report.ok, res.report.errors
    assert [i.currency for i in res.invoices] == ["EUR"]


def test_consolidating_into_an_invoice_of_another_currency_is_an_error():
    usd_invoice, = generate_invoices([line("p1", 1)], {"p1": placement("p1")}, hierarchy(), TenantSequence("t1"),
                                     request()).invoices
    now_eur = BilltoHierarchy([n if n.entity_id != "cl" else replace(n, currency="EUR")
                               for n in hierarchy().nodes.values()])
    ps = {"p2": placement("p2")}
    report = health_check([line("p2", 2)], ps, now_eur, into=usd_invoice)
    assert [(f.code, f.ref) for f in report.errors] == [("MIXED_CURRENCY", "t1:p2|L2")]
    assert "EUR" in report.errors[0].message and "USD" in report.errors[0].message
    assert health_check([line("p2", 2)], ps, hierarchy(), into=usd_invoice).ok
    with pytest.raises(MixedCurrency, match="in EUR"):
        consolidate_into(usd_invoice, [line("p2", 2)], ps, now_eur)
    assert issubclass(MixedCurrency, NotConsolidatable)     # the Consolidate command refuses it like any other
    assert len(consolidate_into(usd_invoice, [line("p2", 2)], ps, hierarchy()).lines) == 2


def test_automatic_account_without_ap_email_is_only_a_warning():
    h = BilltoHierarchy([node("co"), node("cl", EntityType.CLIENT, "co", name="Acme", mode=InvoicingMode.AUTOMATIC,
                                          contact=Contact("No Mail")), node("of", EntityType.OFFICE, "cl")])
    res = generate_invoices([line("p1", 1)], {"p1": placement("p1")}, h, TenantSequence("t1"), request())
    assert res.report.ok and [f.code for f in res.report.warnings] == ["AP_CONTACT_NO_EMAIL"]
    assert res.invoices[0].invoicing_mode is InvoicingMode.AUTOMATIC


def test_cancelled_placement_pending_lines_are_reported():
    report = health_check([line("p1", 1)], {"p1": placement("p1", status=PlacementStatus.CANCELLED)}, hierarchy())
    assert [(f.severity, f.code) for f in report.findings] == [(Severity.WARNING, "CANCELLED_PLACEMENT_PENDING")]


def test_manual_accounts_are_skipped_by_windows_but_invoiced_on_demand():
    h = hierarchy(mode=InvoicingMode.MANUAL)
    res = generate_invoices([line("p1", 1)], {"p1": placement("p1")}, h, TenantSequence("t1"), request())
    assert not res.invoices and res.left_pending == ("t1:p1|L1",)
    res = generate_invoices([line("p1", 1)], {"p1": placement("p1")}, h, TenantSequence("t1"),
                            request(on_demand=True, batch_key="cmd-1"))
    assert len(res.invoices) == 1


def test_on_demand_for_one_account_leaves_the_others():
    nodes = list(hierarchy().nodes.values()) + [node("cl2", EntityType.CLIENT, "co", name="Beta")]
    h = BilltoHierarchy(nodes)
    ps = {"p1": placement("p1"), "p2": placement("p2", office=None)}
    ps["p2"] = ps["p2"].__class__(**{**{f: getattr(ps["p2"], f) for f in ps["p2"].__slots__}, "client_id": "cl2"})
    res = generate_invoices([line("p1", 1), line("p2", 2)], ps, h, TenantSequence("t1"),
                            request(on_demand=True, account_id="cl2", batch_key="cmd-2"))
    assert [i.account_name for i in res.invoices] == ["Beta"] and res.left_pending == ("t1:p1|L1",)


def test_same_inputs_same_documents():
    args = ([line("p1", 1), line("p1", 2)], {"p1": placement("p1")}, hierarchy(), TenantSequence("t1"), request())
    assert generate_invoices(*args).invoices == generate_invoices(*args).invoices


def test_pending_amounts_split_like_list_batches():
    amounts = pending_amounts([line("p1", 1, "7.00", PayLineSource.TIMESHEET, PayCode.REG), line("p1", 2, "3.00")])
    assert amounts == {LineCategory.TIMESHEETS: D("7.00"), LineCategory.PRODUCTS_SERVICES: D("3.00")}


ALLOWED_IMPORTS = {"__future__", "dataclasses", "operator", "datetime", "decimal", "enum", "typing", "hashlib", "zoneinfo",
                   "calendar", "collections", "itertools", "functools", "bisect", "math", "backoffice"}


def test_domain_imports_nothing_with_io():
    root = Path(__file__).resolve().parents[2] / "backoffice"
    offenders = []
    for path in root.glob("*.py"):
        for node_ in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node_, ast.Import):
                names = [a.name for a in node_.names]
            elif isinstance(node_, ast.ImportFrom):
                names = [node_.module or ""]
            for name in names:
                if name.split(".")[0] not in ALLOWED_IMPORTS:
                    offenders.append(f"{path.name}: {name}")
            if isinstance(node_, ast.Call) and getattr(node_.func, "id", None) == "open":
                offenders.append(f"{path.name}: open()")
            if isinstance(node_, ast.Attribute) and node_.attr in ("now", "today", "utcnow") and \
                    getattr(node_.value, "attr", getattr(node_.value, "id", "")) in ("datetime", "date"):
                offenders.append(f"{path.name}: wall clock .{node_.attr}()")
    assert offenders == []
