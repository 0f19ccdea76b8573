"""Storing batches (readmodel.store) in SQLite and in a real PostgreSQL: idempotent rows, offsets in
the same transaction, fenced positions."""
import datetime as dt

import pytest
import sqlalchemy as sa

from readmodel import models as m
from readmodel.db import engine_for, migrate
from readmodel.rows import build
from readmodel.store import Fenced, positions, store
from schemas.topics import BILLING_PAYLINES
from tests.readmodel.test_rows import payline_messages

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.timezone.utc)


@pytest.fixture
def engine(db_url):
    engine = engine_for(db_url)
    migrate(engine)
    migrate(engine)            # a second start finds the schema at head
    yield engine
    engine.dispose()


def lines(engine):
    with engine.connect() as conn:
        return {r.pay_line_id: (r.status, r.version, r.amount) for r in conn.execute(sa.select(m.pay_lines))}


def test_rows_and_positions_commit_together_and_a_replay_changes_nothing(engine):
    messages = payline_messages()
    first, rest = messages[:2], messages[2:]
    store(engine, "g", {}, build(first, AT))
    assert positions(engine, "g") == {(BILLING_PAYLINES, 0): 2}
    store(engine, "g", {(BILLING_PAYLINES, 0): 2}, build(rest, AT))
    done = lines(engine)
    assert positions(engine, "g") == {(BILLING_PAYLINES, 0): len(messages)}
    assert {v[:2] for v in done.values()} == {("PENDING", 2), ("REMOVED", 2)}
    # another group replays everything, then the old events again: versions keep the newest
    store(engine, "other", {}, build(messages, AT))
    store(engine, "other2", {}, build(first, AT))
    assert lines(engine) == done


def test_a_process_that_lost_its_partition_cannot_write(engine):
    messages = payline_messages()
    store(engine, "g", {}, build(messages[:1], AT))
    store(engine, "g", {(BILLING_PAYLINES, 0): 1}, build(messages[1:2], AT))        # the new owner moved on
    with pytest.raises(Fenced):
        store(engine, "g", {(BILLING_PAYLINES, 0): 1}, build(messages[1:], AT))  # the old owner, one batch late
    with pytest.raises(Fenced):
        store(engine, "g", {}, build(messages, AT))                              # a newcomer that read no position
    assert positions(engine, "g") == {(BILLING_PAYLINES, 0): 2}
    assert {v[1] for v in lines(engine).values()} == {1}       # nothing of the fenced batches was stored


def test_hostile_text_is_stored_not_a_crash_loop(engine):
    """A NUL in a dead letter's key or reason (PostgreSQL text cannot hold one) is stored replaced."""
    from readmodel.rows import Message
    from schemas.codec import encode
    from schemas.mapping import dead_letter_record
    from schemas.topics import ATS_FEES, dead_letter_topic

    letter = dead_letter_record(topic=ATS_FEES, partition=0, offset=1, key=b"t\x00x:p1", value=b"\x00",
                                error=ValueError("bad \x00 byte"), first_seen=AT, tenant_id="t\x00x")
    store(engine, "g", {}, build([Message(dead_letter_topic(ATS_FEES), 0, 0, b"t\x00x:p1",
                                          encode("DeadLetter", letter))], AT))
    with engine.connect() as conn:
        (row,) = conn.execute(sa.select(m.dead_letters)).all()
    assert row.error.startswith("bad ") and row.original_value == b"\x00" and row.original_key == b"t\x00x:p1"
