"""One consolidation with hundreds of worst-case lines must not become one document too big
for a broker message (1 MiB on billing.invoices and document-commands): it continues on
numbered continuation invoices, every line on exactly one of them."""
import datetime as dt
from collections import Counter

import pytest

from backoffice.consolidation import InvoiceSize, consolidate_into, line_bytes
from backoffice.errors import NotConsolidatable
from backoffice.generation import GenerationRequest, generate_invoices
from backoffice.model import FeeKind, PayLine, PayLineSource
from backoffice.numbering import TenantSequence
from schemas.codec import encode
from schemas.mapping import invoice_to_record
from tests.domain.factories import D, hierarchy, placement

BROKER_LIMIT = 1024 * 1024
DAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 24, 19, tzinfo=dt.timezone.utc)
PID = "p" * 400                                   # a key is at most 512 bytes (schemas/bounds.py)


def worst_line(n: int) -> PayLine:
    """A fee line whose texts are as long as the input bounds allow (1 KiB per field)."""
    fee_id = f"{n:06d}-" + "f" * 1000
    return PayLine("t1", f"t1:{PID}|FEE|{fee_id}", PID, PayLineSource.FEE, "é" * 510, D(1), D("12.34"), D("12.34"),
                   DAY, DAY, True, fee_id=fee_id, fee_kind=FeeKind.SERVICE, catalog_item_id="c" * 1000)


def request():
    return GenerationRequest(tenant_id="t1", batch_key="WEEKLY:2026-11-22", issue_date=dt.date(2026, 11, 24),
                             period_start=DAY - dt.timedelta(days=6), period_end=DAY, created_at=NOW)


def encoded_size(inv) -> int:
    return len(encode("InvoiceEvent", invoice_to_record(inv, event_id="e", event_type="GENERATED", occurred_at=NOW)))


def test_a_consolidation_of_600_worst_case_lines_continues_on_numbered_invoices_each_under_1_mib():
    lines = [worst_line(n) for n in range(600)]
    res = generate_invoices(lines, {PID: placement(PID)}, hierarchy(), TenantSequence("t1", 9), request())
    assert res.report.ok
    assert len(res.invoices) > 1, "one invoice took all 600 lines"
    for inv in res.invoices:
        assert encoded_size(inv) < BROKER_LIMIT, (inv.grouping_key, len(inv.lines), encoded_size(inv))
        assert len(inv.lines) <= InvoiceSize().max_lines
    # every line exactly once, in the group's order, across the parts
    on = Counter(x.pay_line_id for inv in res.invoices for x in inv.lines)
    assert set(on) == {x.pay_line_id for x in lines} and set(on.values()) == {1}
    ordered = sorted(res.invoices, key=lambda i: int(i.number))
    assert [int(i.number) for i in ordered] == list(range(10, 10 + len(ordered)))      # consecutive numbers
    assert [i.grouping_key for i in ordered] == ["ACCOUNT"] + [f"ACCOUNT#{k:03d}" for k in range(2, len(ordered) + 1)]
    assert [x.pay_line_id for i in ordered for x in i.lines] == sorted(on, key=lambda k: k)   # order kept
    assert len({i.invoice_id for i in ordered}) == len(ordered)
    assert sum(i.subtotal for i in ordered) == D("12.34") * 600
    assert res.batch.invoice_count == len(ordered)


def test_the_split_follows_both_bounds_and_a_small_group_stays_one_invoice():
    lines = [worst_line(n) for n in range(30)]
    one = generate_invoices(lines, {PID: placement(PID)}, hierarchy(), TenantSequence("t1"), request())
    assert len(one.invoices) == 1 and one.invoices[0].grouping_key == "ACCOUNT"
    by_lines = generate_invoices(lines, {PID: placement(PID)}, hierarchy(), TenantSequence("t1"), request(),
                                 InvoiceSize(max_lines=7))
    assert [len(i.lines) for i in sorted(by_lines.invoices, key=lambda i: int(i.number))] == [7, 7, 7, 7, 2]
    weight = line_bytes(lines[0])
    by_bytes = generate_invoices(lines, {PID: placement(PID)}, hierarchy(), TenantSequence("t1"), request(),
                                 InvoiceSize(max_bytes=weight * 10 + 1))
    assert [len(i.lines) for i in sorted(by_bytes.invoices, key=lambda i: int(i.number))] == [10, 10, 10]
    # the same input drafts the same documents (a replayed window re-emits the same ids and numbers)
    again = generate_invoices(lines, {PID: placement(PID)}, hierarchy(), TenantSequence("t1"), request(),
                              InvoiceSize(max_lines=7))
    assert [(i.invoice_id, i.number) for i in again.invoices] == [(i.invoice_id, i.number) for i in by_lines.invoices]


def test_a_manual_consolidate_past_the_bound_is_refused_with_a_reason():
    lines = [worst_line(n) for n in range(12)]
    res = generate_invoices(lines[:5], {PID: placement(PID)}, hierarchy(), TenantSequence("t1"), request())
    with pytest.raises(NotConsolidatable, match="at most 8"):
        consolidate_into(res.invoices[0], lines[5:], {PID: placement(PID)}, hierarchy(), InvoiceSize(max_lines=8))
    grown = consolidate_into(res.invoices[0], lines[5:8], {PID: placement(PID)}, hierarchy(), InvoiceSize(max_lines=8))
    assert len(grown.lines) == 8
