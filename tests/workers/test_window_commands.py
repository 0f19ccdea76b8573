"""Operator commands and windows through one real worker: reservations never strand lines,
a command id takes effect once, snoozed lines wait, refusals are answered on billing.outcomes.

One worker for the module; each test has its own tenant."""
import datetime as dt
import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer

from infra.admin import create_topics
from infra.kafka import producer_config
from infra.readback import read_to_end
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, BILLING_OUTCOMES, PLACEMENT_PARTITIONS
from simulator.records import account_record, placement_record
from tests.workers.harness import WorkerProcess, produce, read_table, records_by, wait_drained, wait_until
from tests.workers.test_consolidate import _ts
from tests.workers.test_pipeline import command, invoice_events
from workers.messages import Collect
from workers.names import LEDGER_COMMANDS, LEDGER_TABLE, WINDOW_TABLE, ingest_topics
from workers.state import dumps as state_dumps, loads as state_loads

pytestmark = pytest.mark.integration
WEEK1, WEEK2, WEEK3 = dt.date(2026, 9, 6), dt.date(2026, 9, 13), dt.date(2026, 9, 20)


class Rig:
    def __init__(self, bootstrap, app_id, worker):
        self.bootstrap, self.app_id, self.worker = bootstrap, app_id, worker

    def ingest(self, messages):
        produce(self.bootstrap, messages)
        wait_drained(self.bootstrap, self.app_id, ingest_topics(self.app_id))

    def outcomes(self, cid):
        return records_by(self.bootstrap, BILLING_OUTCOMES, "command_id", {cid}).get(cid, [])

    def send(self, *commands):
        produce(self.bootstrap, list(commands))

    def run(self, tenant, cid, kind, **fields):
        self.send(command(tenant, cid, kind, **fields))
        return self.wait(cid)

    def wait(self, cid):
        return wait_until(lambda: (o := self.outcomes(cid)) and o[0], 120,
                          message=f"outcome of {cid}; log:\n{self.worker.log()[-2000:]}")


@pytest.fixture(scope="module")
def rig(kafka_bootstrap, tmp_path_factory):
    create_topics(kafka_bootstrap)
    tmp = tmp_path_factory.mktemp("window-commands")
    app_id = f"t{uuid.uuid4().hex[:10]}"
    env = {"BACKOFFICE_SCHEDULER_INTERVAL": "3600", "BACKOFFICE_DOCUMENT_STORE": str(tmp / "docs"),
           "BACKOFFICE_SENT_LOG": str(tmp / "sent"), "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1"}
    worker = WorkerProcess(kafka_bootstrap, app_id, tmp, extra_env=env).start()
    try:
        yield Rig(kafka_bootstrap, app_id, worker)
    finally:
        worker.stop()


def _setup(tenant, placements, accounts=("acme",)):
    return [*[(ATS_ACCOUNTS, f"{tenant}:{a}".encode(), encode("AccountUpserted", account_record(tenant, a, a.title())))
              for a in accounts],
            *[(ATS_PLACEMENTS, f"{tenant}:{p}".encode(), encode("PlacementUpserted", placement_record(tenant, p, acct)))
              for p, acct in placements]]


def _lines_by_invoice(rig, tenant):
    return {i: [x["pay_line_id"] for x in rec["lines"]] for i, rec in invoice_events(rig.bootstrap, {tenant}).items()}


def _wait_invoices(rig, tenant, outcome_list):
    ids = {i for o in outcome_list for i in o["invoice_ids"]}
    return wait_until(lambda: (d := _lines_by_invoice(rig, tenant)) and ids <= set(d) and d, 120,
                      message=f"invoice events {sorted(ids)}")


def _replay_collect(rig, request):
    """What a crashed command agent re-sends: the window's Collect, to every ledger partition."""
    producer = Producer(producer_config(rig.bootstrap))
    for p in range(PLACEMENT_PARTITIONS):
        value = state_dumps(Collect(request, p, PLACEMENT_PARTITIONS))   # the internal topics' "state" codec
        producer.produce(f"{rig.app_id}-{LEDGER_COMMANDS}", key=b"collect", value=value, partition=p)
    assert producer.flush(30) == 0


def _ledger_history(rig, key):
    return [state_loads(m.value()) for m in read_to_end(rig.bootstrap, f"{rig.app_id}-{LEDGER_TABLE}-changelog")
            if m.key() == key and m.value() is not None]


def test_a_done_window_replayed_or_closed_again_strands_nothing(rig):
    t = f"{rig.app_id}-a"
    window = "WEEKLY:2026-09-06"
    rig.ingest(_setup(t, [("p1", "acme"), ("p2", "acme")]) + [_ts(t, "p1", WEEK1)])
    first = rig.run(t, f"{t}-close-1", "CLOSE_WINDOW", window_id=window)
    assert first["ok"] and len(first["invoice_ids"]) == 1, first
    rig.ingest([_ts(t, "p2", WEEK1)])                                   # approved late, worked in the window
    again = rig.run(t, f"{t}-close-2", "CLOSE_WINDOW", window_id=window)
    assert again["ok"] and "already closed" in again["message"] and again["invoice_ids"] == [], again
    request = wait_until(lambda: read_table(rig.bootstrap, rig.app_id, WINDOW_TABLE).get(f"{t}|{window}".encode()),
                         120, message="close-1's window in the windows changelog").request
    _replay_collect(rig, request)

    def reserved_then_released():
        seen = [window in r.reserved.values() for r in _ledger_history(rig, f"{t}:p2".encode())]
        return True in seen and not seen[-1]
    wait_until(reserved_then_released, 120, message="the replayed Collect's reservation and its release")
    second = rig.run(t, f"{t}-close-3", "CLOSE_WINDOW", window_id="WEEKLY:2026-09-13")
    assert second["ok"] and len(second["invoice_ids"]) == 1, second
    docs = _wait_invoices(rig, t, [first, second])
    by_line = Counter(x for lines in docs.values() for x in lines)
    assert set(by_line.values()) == {1} and len(by_line) == 4
    assert {x.split("|")[0] for x in docs[second["invoice_ids"][0]]} == {f"{t}:p2"}


def test_one_command_id_one_effect_and_a_snoozed_line_waits_for_the_unsnooze(rig):
    t = f"{rig.app_id}-b"
    rig.ingest(_setup(t, [("p1", "acme"), ("p2", "acme")]) + [_ts(t, "p1", WEEK1), _ts(t, "p2", WEEK1)])
    snoozed = f"{t}:p1|TS|ts-p1-20260906|REG"
    twice = command(t, f"{t}-s1", "SNOOZE", pay_line_id=snoozed)
    rig.send(twice, twice)
    assert rig.wait(f"{t}-s1")["ok"]
    gen = command(t, f"{t}-g1", "GENERATE", as_of=WEEK2)
    rig.send(gen, gen)
    g1 = rig.wait(f"{t}-g1")
    assert g1["ok"] and len(g1["invoice_ids"]) == 1, g1
    assert rig.run(t, f"{t}-u1", "UNSNOOZE", pay_line_id=snoozed)["ok"]
    g2 = rig.run(t, f"{t}-g2", "GENERATE", as_of=WEEK2)         # processed after both duplicates
    assert g2["ok"] and len(g2["invoice_ids"]) == 1, g2
    assert len(rig.outcomes(f"{t}-s1")) == len(rig.outcomes(f"{t}-g1")) == 1
    docs = _wait_invoices(rig, t, [g1, g2])
    assert len(docs) == 2
    assert snoozed not in docs[g1["invoice_ids"][0]] and len(docs[g1["invoice_ids"][0]]) == 3
    assert docs[g2["invoice_ids"][0]] == [snoozed]


def test_a_health_check_error_is_refused_and_its_lines_wait_for_the_fix(rig):
    t = f"{rig.app_id}-c"
    rig.ingest(_setup(t, [("p1", "ghost")], accounts=()) + [_ts(t, "p1", WEEK1)])
    refused = rig.run(t, f"{t}-g1", "GENERATE", as_of=WEEK2)
    assert not refused["ok"] and refused["invoice_ids"] == [], refused
    assert any(f["severity"] == "ERROR" for f in refused["findings"]), refused["findings"]
    rig.ingest(_setup(t, [], accounts=("ghost",)))                 # the Billto arrives
    fixed = rig.run(t, f"{t}-g2", "GENERATE", as_of=WEEK2)
    assert fixed["ok"] and len(fixed["invoice_ids"]) == 1, fixed
    docs = _wait_invoices(rig, t, [fixed])
    assert len(docs[fixed["invoice_ids"][0]]) == 2                 # the released lines, now invoiced


def test_a_first_number_already_issued_is_refused_and_the_assembler_lives_on(rig):
    t = f"{rig.app_id}-d"
    rig.ingest(_setup(t, [("p1", "acme")]) + [_ts(t, "p1", WEEK1)])
    assert rig.run(t, f"{t}-g1", "GENERATE", as_of=WEEK2)["ok"]              # number 1
    early = rig.run(t, f"{t}-g2", "GENERATE", as_of=WEEK2, first_number=1)
    assert not early["ok"] and "already issued" in early["message"], early
    rig.ingest([_ts(t, "p1", WEEK2)])
    # both pass the command agent's check (nothing issued past 1 yet); the assembler numbers the first
    rig.send(command(t, f"{t}-g3", "GENERATE", as_of=WEEK3, first_number=5),
             command(t, f"{t}-g4", "GENERATE", as_of=WEEK3, first_number=5))
    g3, g4 = rig.wait(f"{t}-g3"), rig.wait(f"{t}-g4")
    assert g3["ok"] and "numbers 5-5" in g3["message"], g3
    assert not g4["ok"] and "already issued" in g4["message"], g4
    # the assembler marks the window after answering: wait for its table write, not only the outcome
    wait_until(lambda: (w := read_table(rig.bootstrap, rig.app_id, WINDOW_TABLE).get(f"{t}|cmd:{t}-g4".encode()))
               and w.blocked, 120, message="g4's window marked blocked")
    rig.ingest([_ts(t, "p1", WEEK3)])
    g5 = rig.run(t, f"{t}-g5", "GENERATE", as_of=WEEK3)
    assert g5["ok"] and "numbers 6-6" in g5["message"], g5
