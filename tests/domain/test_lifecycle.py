"""Document lifecycle (seed 003): New -> Recorded -> Sent, or Void; every other move is refused by name."""
import datetime as dt
from dataclasses import replace

import pytest

from backoffice import lifecycle
from backoffice.consolidation import consolidate
from backoffice.lifecycle import IllegalDocumentTransition
from backoffice.model import DocumentKind, DocumentStatus, LineItemStatus, PayLine, PayLineSource
from tests.domain.factories import D, hierarchy, placement

S = DocumentStatus
DAY = dt.date(2026, 11, 22)
MOVES = {S.RECORDED: lambda inv: lifecycle.record(inv, "standard"), S.SENT: lifecycle.mark_sent,
         S.VOID: lifecycle.void}
ALLOWED = {(S.NEW, S.RECORDED), (S.NEW, S.VOID), (S.RECORDED, S.SENT), (S.RECORDED, S.VOID), (S.SENT, S.VOID)}
#: repeating the move the document already made is a no-op (a replayed command)
IDEMPOTENT = {(S.RECORDED, S.RECORDED), (S.SENT, S.SENT)}


def document(kind: DocumentKind, status: DocumentStatus):
    amount = D("-50.00") if kind is DocumentKind.CREDIT_MEMO else D("50.00")
    source = PayLineSource.CREDIT if kind is DocumentKind.CREDIT_MEMO else PayLineSource.FEE
    line = PayLine("t1", "t1:p1|L1", "p1", source, "item", D(1), amount, amount, DAY, DAY)
    doc, = consolidate([line], {"p1": placement("p1")}, hierarchy(), tenant_id="t1", batch_id="b1", issue_date=DAY,
                       period_start=DAY, period_end=DAY)
    assert doc.kind is kind
    return replace(doc, status=status, number="1001", template="standard" if status is not S.NEW else None)


@pytest.mark.parametrize("kind", list(DocumentKind))
@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", [S.RECORDED, S.SENT, S.VOID])
def test_transition_table(kind, current, target):
    doc = document(kind, current)
    if (current, target) in ALLOWED:
        moved = MOVES[target](doc)
        assert moved.status is target and moved.version == doc.version + 1
    elif (current, target) in IDEMPOTENT:
        assert MOVES[target](doc) is doc
    else:
        with pytest.raises(IllegalDocumentTransition) as refused:
            MOVES[target](doc)
        assert (refused.value.current, refused.value.target) == (current, target)
        assert f"from {current.value} to {target.value}" in str(refused.value) and "1001" in str(refused.value)


def test_the_table_refuses_the_moves_the_seed_forbids():
    """Spelled out, so a loosened table shows up here as well as in the grid above."""
    for current, target in [(S.VOID, S.RECORDED), (S.VOID, S.SENT), (S.VOID, S.VOID), (S.SENT, S.RECORDED),
                            (S.NEW, S.SENT)]:
        assert (current, target) not in ALLOWED | IDEMPOTENT
        with pytest.raises(IllegalDocumentTransition):
            MOVES[target](document(DocumentKind.INVOICE, current))


def test_recording_marks_every_line_item_recorded_with_the_template():
    doc = lifecycle.record(document(DocumentKind.INVOICE, S.NEW), "classic")
    assert doc.template == "classic" and {x.status for x in doc.lines} == {LineItemStatus.RECORDED}
    assert lifecycle.record(doc, "classic") is doc
    with pytest.raises(IllegalDocumentTransition, match="from RECORDED to RECORDED"):
        lifecycle.record(doc, "other")          # re-recording with another template is not a no-op


def test_the_error_names_a_credit_memo_as_such():
    with pytest.raises(IllegalDocumentTransition, match="^credit memo 1001 cannot go from VOID to SENT"):
        lifecycle.mark_sent(document(DocumentKind.CREDIT_MEMO, S.VOID))
