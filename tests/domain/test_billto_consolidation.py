import datetime as dt

import pytest

from backoffice.billto import BilltoHierarchy, BilltoUnresolved
from backoffice.consolidation import consolidate, consolidate_into, draft, group_lines
from backoffice.errors import NotConsolidatable, NumberReused
from backoffice.model import (
    BatchOption, Contact, DocumentKind, DocumentStatus, EntityType, InvoicingMode, PayLine, PayLineSource,
    PlacementType,
)
from backoffice.numbering import TenantSequence, number_invoices
from tests.domain.factories import D, hierarchy, node, placement

DAY = dt.date(2026, 11, 22)


def line(pid, n, amount="100.00", taxable=True, credit=False, source=PayLineSource.FEE):
    amt = D(amount) if not credit else -D(amount)
    return PayLine("t1", f"t1:{pid}|L{n}", pid, PayLineSource.CREDIT if credit else source, f"item {n}", D(1), amt, amt,
                   DAY, DAY, taxable)


def test_lowest_named_node_is_the_billto():
    h = hierarchy()
    assert h.resolve(placement()).account.entity_id == "cl"          # office unnamed -> client
    named_office = BilltoHierarchy(list(h.nodes.values())[:2] + [node("of", EntityType.OFFICE, "cl", name="Acme Austin")])
    assert named_office.resolve(placement()).account.account_name == "Acme Austin"
    only_company = BilltoHierarchy([node("co", name="Acme Corp"), node("cl", EntityType.CLIENT, "co"),
                                    node("of", EntityType.OFFICE, "cl")])
    assert only_company.resolve(placement()).account.entity_id == "co"


def test_no_account_name_anywhere_is_unresolved():
    h = BilltoHierarchy([node("co"), node("cl", EntityType.CLIENT, "co"), node("of", EntityType.OFFICE, "cl")])
    with pytest.raises(BilltoUnresolved, match="no Account Name"):
        h.resolve(placement())


def test_ap_contact_override_then_node_then_up_the_hierarchy():
    h = hierarchy()
    assert h.resolve(placement()).contact.email == "ap@co.example"           # client has none -> company's
    override = Contact("Pat PO", "pat@client.example")
    assert h.resolve(placement(contact=override)).contact == override


def test_account_name_set_later_applies_at_generation_time():
    p = placement()
    before = hierarchy().resolve(p).account.entity_id
    later = BilltoHierarchy(list(hierarchy().nodes.values())[:2] + [node("of", EntityType.OFFICE, "cl", name="Acme Austin")])
    assert before == "cl" and later.resolve(p).account.entity_id == "of"


def _consolidate(lines, placements, h=None):
    return consolidate(lines, {p.placement_id: p for p in placements}, h or hierarchy(), tenant_id="t1", batch_id="b1",
                       issue_date=DAY, period_start=DAY - dt.timedelta(days=6), period_end=DAY)


@pytest.mark.parametrize("option,expected_invoices", [
    (BatchOption.ACCOUNT, 1), (BatchOption.PLACEMENT, 3), (BatchOption.PURCHASE_ORDER, 2), (BatchOption.AP_CONTACT, 2)])
def test_batch_options_sub_group_an_account(option, expected_invoices):
    ps = [placement("p1", option=option, po="PO-1", contact=Contact("A", "a@x")),
          placement("p2", option=option, po="PO-1", contact=Contact("A", "a@x")),
          placement("p3", option=option, po="PO-2", contact=Contact("B", "b@x"))]
    invoices = _consolidate([line("p1", 1), line("p2", 2), line("p3", 3)], ps)
    assert len(invoices) == expected_invoices
    assert sorted(len(i.lines) for i in invoices) == sorted(
        {1: [3], 3: [1, 1, 1], 2: [2, 1]}[expected_invoices])


def test_fees_timesheets_and_products_share_an_invoice_when_keys_agree():
    ps = [placement("p1"), placement("p2", ptype=PlacementType.PERM)]
    invoices = _consolidate([line("p1", 1, source=PayLineSource.TIMESHEET), line("p2", 2), line("p1", 3)], ps)
    assert len(invoices) == 1 and len(invoices[0].lines) == 3


def test_credit_lines_become_a_separate_credit_memo():
    ps = [placement("p1")]
    docs = _consolidate([line("p1", 1), line("p1", 2, credit=True)], ps)
    kinds = sorted(d.kind.value for d in docs)
    assert kinds == ["CREDIT_MEMO", "INVOICE"]
    memo = next(d for d in docs if d.kind is DocumentKind.CREDIT_MEMO)
    assert memo.total < 0 and all(x.amount < 0 for x in memo.lines)


def test_totals_tax_rounded_once_on_taxable_lines():
    ps = [placement("p1")]
    lines = [line("p1", 1, "0.10"), line("p1", 2, "0.10"), line("p1", 3, "0.10"), line("p1", 4, "99.99", taxable=False)]
    inv, = _consolidate(lines, ps, hierarchy(tax=D("0.05")))
    assert inv.subtotal == D("100.29")
    # 0.30 * 5% = 0.015 -> 0.02 once; per line it would be 3 x (0.005 -> 0.01) = 0.03
    assert inv.tax == D("0.02")
    assert inv.total == D("100.31")
    assert inv.due_date == DAY + dt.timedelta(days=30)


def test_ids_are_deterministic():
    ps = [placement("p1")]
    a, = _consolidate([line("p1", 1)], ps)
    b, = _consolidate([line("p1", 1)], ps)
    assert a == b and a.invoice_id.startswith("inv-")


def test_numbering_is_gapless_and_never_reused():
    ps = [placement("p1", option=BatchOption.PLACEMENT), placement("p2", option=BatchOption.PLACEMENT)]
    drafts = _consolidate([line("p1", 1), line("p2", 2)], ps)
    numbered, seq = number_invoices(drafts, TenantSequence("t1", 1000))
    assert [i.number for i in numbered] == ["1001", "1002"] and seq.last_number == 1002
    with pytest.raises(NumberReused):
        number_invoices(drafts, seq, first_number=1002)
    numbered, seq = number_invoices(drafts, seq, first_number=5000)
    assert [i.number for i in numbered] == ["5000", "5001"]


def test_manual_consolidate_into_a_new_invoice_of_the_same_account():
    ps = {p.placement_id: p for p in [placement("p1"), placement("p2")]}
    inv, = _consolidate([line("p1", 1)], ps.values())
    merged = consolidate_into(inv, [line("p2", 2)], ps, hierarchy())
    assert len(merged.lines) == 2 and merged.subtotal == D("200.00")
    from dataclasses import replace
    with pytest.raises(NotConsolidatable, match="RECORDED"):
        consolidate_into(replace(inv, status=DocumentStatus.RECORDED), [line("p2", 2)], ps, hierarchy())


def test_draft_gives_the_account_template_to_invoices_only():
    from dataclasses import replace
    h = BilltoHierarchy([replace(n, default_template="acme-invoice") if n.entity_id == "cl" else n
                         for n in hierarchy().nodes.values()])
    ps = {"p1": placement("p1")}
    groups = group_lines([line("p1", 1), line("p1", 2, credit=True)], ps, h)
    docs = {g.kind: draft(g, tenant_id="t1", batch_id="b1", issue_date=DAY, period_start=DAY, period_end=DAY)
            for g in groups}
    assert docs[DocumentKind.INVOICE].template == "acme-invoice"
    assert docs[DocumentKind.CREDIT_MEMO].template is None      # the registry's credit-memo default applies
