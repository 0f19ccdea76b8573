"""The hostile corpus through the worker's pure path (fast; the real worker runs it in
test_hostile_corpus.py): every bad message refused with its named reason, every valid
neighbour's pay lines exactly as the corpus computed them."""
from collections import Counter

from backoffice import ledger as L
from schemas.codec import encode
from tests.reliability.corpus import NOW, build
from tests.reliability.pure_path import PurePath


def test_every_bad_message_is_refused_with_its_reason_and_every_valid_line_is_kept():
    corpus = build("t1", huge=True, ghost_tenant="ghost")
    path = PurePath(NOW)
    for m in corpus.messages:
        path.feed(m.topic, m.key, m.value)
    path.sweep()
    expected = Counter(m.reason for m in corpus.bad())
    assert path.reasons() == expected, (path.reasons(), expected)
    lines = {line.pay_line_id: line.amount for record in path.ledgers.values()
             for line in L.due_lines(record.ledger, NOW.date(), NOW.date())}
    assert lines == corpus.expected_lines
    for cid, record, text in corpus.commands:
        path.command(encode("OperatorCommand", record))
        assert text in path.refused.get(cid, ""), (cid, path.refused.get(cid))
