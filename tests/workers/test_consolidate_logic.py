"""Manual Consolidate on the invoice owner's side (pure: no Faust, no broker)."""
from dataclasses import replace

from backoffice.model import DocumentStatus, EntityType
from backoffice.billto import BilltoHierarchy
from tests.domain.factories import D, hierarchy, node, placement
from tests.domain.test_billto_consolidation import _consolidate, line
from workers.consolidate_logic import consolidate, settlements
from workers.messages import DocumentCommand
from workers.partitioning import partition_for


def _setup():
    other = node("cl2", EntityType.CLIENT, "co", name="Other Co")
    h = BilltoHierarchy(list(hierarchy().nodes.values()) + [other])
    ps = [placement("p1"), placement("p2"), replace(placement("p3"), client_id="cl2", office_id=None)]
    invoice, = _consolidate([line("p1", 1)], ps[:1], h)
    return h, ps, invoice


def _msg(invoice, lines, ps, h):
    return DocumentCommand("CONSOLIDATE", invoice.invoice_id, "c1", placements=tuple(ps), lines=tuple(lines),
                           hierarchy=h, window_key="cmd:c1")


def test_only_the_invoices_account_lines_join_and_the_rest_is_released():
    h, ps, invoice = _setup()
    lines = [line("p2", 2, "50.00"), line("p3", 3, "70.00"), line("p1", 1)]      # p1|L1 is already on it
    msg = _msg(invoice, lines, ps, h)
    result = consolidate(invoice, msg)
    assert result.ok and result.taken == ("t1:p2|L2",)
    assert result.invoice.subtotal == D("150.00") and result.invoice.version == invoice.version + 1
    settles = settlements(msg, result.taken, 8)
    assigned = {pl: inv for s in settles.values() for a in s.assignments.values() for pl, (_, inv) in a.items()}
    assert assigned == {"t1:p2|L2": invoice.invoice_id}
    released = {pk for s in settles.values() for pk, a in s.assignments.items() if not a}
    assert {"t1:p1", "t1:p3"} <= released                          # reservations of the others are let go
    for partition, settle in settles.items():
        assert all(partition_for(pk.encode(), 8) == partition for pk in settle.assignments)
        assert settle.window_key == "cmd:c1"


def test_refused_for_a_recorded_invoice_an_unknown_one_or_nothing_to_add():
    h, ps, invoice = _setup()
    msg = _msg(invoice, [line("p2", 2)], ps, h)
    recorded = consolidate(replace(invoice, status=DocumentStatus.RECORDED), msg)
    assert not recorded.ok and "RECORDED" in recorded.message and recorded.taken == ()
    assert not consolidate(None, msg).ok
    only_other_account = consolidate(invoice, _msg(invoice, [line("p3", 3)], ps, h))
    assert not only_other_account.ok and "no pending line items" in only_other_account.message
