"""Issue 12 against a real worker on the embedded broker: the hostile corpus interleaved with
valid events. Every bad message ends in a dead letter (counted by its named reason) or a
refused outcome, every valid line is invoiced exactly once, the worker stays alive without a
restart and the lag reaches 0. The fast variant (no 1 MiB messages) runs in `make test`;
the full corpus, with the ~1 MiB strings, behind the reliability marker."""
from __future__ import annotations

from collections import Counter

import pytest

from infra.admin import create_topics
from infra.readback import read_to_end
from schemas.codec import decode, encode
from schemas.topics import (
    ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_COMMANDS, BILLING_INVOICES, BILLING_OUTCOMES,
    dead_letter_topic,
)
from tests.reliability.corpus import AS_OF, build, command_record
from tests.workers.harness import WorkerProcess, produce, records_by, wait_drained, wait_until
from tests.workers.oracle import assert_invoiced_exactly_once
from workers.names import ingest_topics

DLQ_SOURCES = (ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES, BILLING_COMMANDS)


def _dead_letters(bootstrap: str, tenants: set[str]) -> Counter:
    found: Counter = Counter()
    for source in DLQ_SOURCES:
        for m in read_to_end(bootstrap, dead_letter_topic(source)):
            rec = decode(m.value()).record
            owner = (rec["original_key"] or b"").decode(errors="replace").split(":")[0]
            if owner in tenants:
                found[rec["error_type"]] += 1
    return found


def _invoice_lines(bootstrap: str, tenant: str) -> list[tuple[str, object]]:
    latest = {}
    for m in read_to_end(bootstrap, BILLING_INVOICES):
        rec = decode(m.value()).record
        if rec["tenant_id"] == tenant and rec["event_type"] == "GENERATED":
            latest[rec["invoice_id"]] = rec
    return [(line["pay_line_id"], line["amount"]) for inv in latest.values() for line in inv["lines"]]


def _run(bootstrap, tmp_path, name, *, huge: bool) -> None:
    create_topics(bootstrap)
    tenant, ghost = f"{name}-acme", f"{name}-ghost"
    corpus = build(tenant, huge=huge, ghost_tenant=ghost)
    produce(bootstrap, [(m.topic, m.key, m.value) for m in corpus.messages])
    worker = WorkerProcess(bootstrap, name, tmp_path, extra_env={
        "BACKOFFICE_ORPHAN_GRACE_SECONDS": "3", "BACKOFFICE_PARKED_SWEEP_SECONDS": "1",
        "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"), "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"),
        "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1", "BACKOFFICE_SCHEDULER_INTERVAL": "3600",
    }).start()
    try:
        expected_letters = Counter(m.reason for m in corpus.bad())
        wait_until(lambda: _dead_letters(bootstrap, {tenant, ghost}) == expected_letters or not worker.alive(),
                   180, interval=1.0, message=f"dead letters {expected_letters}; log:\n{worker.log()[-3000:]}")
        assert worker.alive(), worker.log()[-3000:]
        wait_drained(bootstrap, name, ingest_topics(name))
        generate = f"{tenant}-gen"
        commands = [(generate, command_record(tenant, generate, "GENERATE", as_of=AS_OF), "")] + corpus.commands
        produce(bootstrap, [(BILLING_COMMANDS, tenant.encode(), encode("OperatorCommand", rec))
                            for _, rec, _ in commands])
        ids = {cid for cid, _, _ in commands}
        answered = wait_until(
            lambda: (o := records_by(bootstrap, BILLING_OUTCOMES, "command_id", ids)) and len(o) == len(ids) and o,
            180, interval=1.0, message=f"an outcome for each of {sorted(ids)}; log:\n{worker.log()[-3000:]}")
        wait_drained(bootstrap, name, ingest_topics(name) + [BILLING_COMMANDS])
        assert worker.alive(), worker.log()[-3000:]
        assert _dead_letters(bootstrap, {tenant, ghost}) == expected_letters
    finally:
        worker.stop()
    outcome = {cid: recs[-1] for cid, recs in answered.items()}
    assert outcome[generate]["ok"], outcome[generate]
    for cid, _, text in corpus.commands:
        assert not outcome[cid]["ok"] and text in outcome[cid]["message"], (cid, outcome[cid])
    assert_invoiced_exactly_once(_invoice_lines(bootstrap, tenant), corpus.expected_lines)


@pytest.mark.integration
@pytest.mark.slow
def test_hostile_corpus_without_the_huge_messages(kafka_bootstrap, tmp_path, unique_name):
    _run(kafka_bootstrap, tmp_path, unique_name, huge=False)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.reliability
def test_hostile_corpus_with_1_mib_messages(kafka_bootstrap, tmp_path, unique_name):
    _run(kafka_bootstrap, tmp_path, unique_name, huge=True)
