"""A crash between the ledger table's write and the send of its pay-line events must not lose
them: the replay finds the record already written (no change, so no diff) and re-sends the
lines' current state. Checked against a crash-free run of the same messages through the same
write path (workers.state.ObservedTable + workers.paylines_out), folded as the projector folds
(the highest version per pay line wins). Pure: a dict stands in for the Faust table."""
import datetime as dt
from dataclasses import replace
from decimal import Decimal

from schemas.codec import decode, encode
from schemas.topics import ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import placement_record, timesheet_record
from tests.workers.test_observed_table import FakeTable
from backoffice import ledger as L
from workers.ledger_logic import Parked, ingest, new_record
from workers.paylines_out import observer, resender
from workers.state import ObservedTable

WEEK = dt.date(2026, 9, 6)
TODAY = WEEK + dt.timedelta(days=2)
NOW = dt.datetime(2026, 9, 8, 12, tzinfo=dt.timezone.utc)
KEY = b"t1:p1"


class Topic:
    """The producer buffer: `crash()` drops what was not delivered yet."""

    def __init__(self) -> None:
        self.buffer, self.delivered = [], []

    def send_soon(self, key, value) -> None:
        self.buffer.append(decode(value).record)

    def flush(self) -> None:
        self.delivered += self.buffer
        self.buffer = []

    def crash(self) -> None:
        self.buffer = []


def _messages():
    return [(ATS_PLACEMENTS, encode("PlacementUpserted", placement_record("t1", "p1", "acme"))),
            (ATS_TIMESHEETS, encode("TimesheetApproved", timesheet_record("t1", "p1", WEEK))),
            (ATS_TIMESHEETS, encode("TimesheetApproved", timesheet_record("t1", "p1", WEEK + dt.timedelta(days=7),
                                                                         ot_hours=Decimal(0))))]


def _consume(ledgers, topic, offset, message) -> None:
    """What agents_ledger._ingest_one does with one message (minus dead letters)."""
    record = ledgers.get(KEY) or new_record(KEY.decode())
    outcome = ingest(record, Parked(message[0], 0, offset, KEY, message[1], NOW), TODAY)
    if outcome.changed:
        ledgers[KEY] = outcome.record
    elif not outcome.dead:                                # a replay writes nothing; its lines are re-sent
        ledgers.keep(KEY, outcome.record, changed=False)


def _folded(events) -> dict:
    newest = {}
    for e in events:
        if e["version"] > newest.get(e["pay_line_id"], {}).get("version", -1):
            newest[e["pay_line_id"]] = e
    return {k: (e["version"], e["status"], e["quantity"], e["amount"], e["window_key"]) for k, e in newest.items()}


def _table(topic):
    return ObservedTable(FakeTable(), observer(topic), resender(topic))


def test_a_crash_between_the_ledger_write_and_the_send_loses_no_pay_line_event():
    clean = Topic()
    ledgers = _table(clean)
    for offset, message in enumerate(_messages()):
        _consume(ledgers, clean, offset, message)
        clean.flush()
    expected = _folded(clean.delivered)
    assert len(expected) == 3 and {v[0] for v in expected.values()} == {1}

    for crashed_at in range(1, len(_messages())):        # each timesheet's write, its events undelivered
        topic = Topic()
        ledgers = _table(topic)
        messages = _messages()
        for offset, message in enumerate(messages[:crashed_at + 1]):
            _consume(ledgers, topic, offset, message)
            if offset < crashed_at:
                topic.flush()
        topic.crash()                                     # the table write survived, the send did not
        for offset, message in list(enumerate(messages))[crashed_at:]:   # restart: replay from the commit
            _consume(ledgers, topic, offset, message)
            topic.flush()
        assert _folded(topic.delivered) == expected, f"events lost when crashing at message {crashed_at}"


def test_a_rewrite_that_changes_nothing_resends_the_current_lines_with_their_versions():
    topic = Topic()
    ledgers = _table(topic)
    for offset, message in enumerate(_messages()[:2]):
        _consume(ledgers, topic, offset, message)
    topic.flush()
    sent = _folded(topic.delivered)
    topic.delivered = []
    ledgers[KEY] = ledgers.get(KEY)                       # e.g. a replayed Settle writes the same record
    topic.flush()
    assert _folded(topic.delivered) == sent               # same versions: idempotent for the projector
    assert len({e["event_id"] for e in topic.delivered}) == len(sent)


def _snooze(ledgers, command_id: str, pay_line_id: str) -> None:
    """What agents_ledger._line_command does with a SNOOZE (a command seen before is skipped)."""
    record = ledgers.get(KEY)
    if command_id in record.seen_commands:
        ledgers.keep(KEY, record, changed=False)
        return
    ledgers[KEY] = replace(record, ledger=L.snooze(record.ledger, pay_line_id).ledger,
                           seen_commands=record.seen_commands | {command_id})


def test_a_replayed_command_the_ledger_skips_as_seen_resends_what_the_crash_lost():
    topic = Topic()
    ledgers = _table(topic)
    for offset, message in enumerate(_messages()[:2]):
        _consume(ledgers, topic, offset, message)
    topic.flush()
    line = sorted(ledgers.get(KEY).ledger.lines)[0]
    _snooze(ledgers, "c1", line)
    topic.crash()                                         # the SNOOZED event never left
    _snooze(ledgers, "c1", line)                          # the command is consumed again after the restart
    topic.flush()
    assert _folded(topic.delivered)[line][1] == "SNOOZED"
