"""A worker meeting a broker that is not the one its local state came from refuses to start,
says why and how to reset; with the reset flag it moves that state aside and starts."""
from __future__ import annotations

import json

import httpx
import pytest

from infra.admin import create_topics
from infra.broker import EmbeddedBroker, free_port
from infra.local_state import MARKER, BrokerIdentity, has_local_state, mismatch, move_aside
from tests.workers.harness import WorkerProcess, wait_until

IDS = {"app-ledgers-changelog": "id-1", "app-invoices-changelog": "id-2"}


def test_mismatch_names_the_reason():
    marker = {"cluster_id": "c", "topic_ids": IDS}
    assert mismatch(marker, BrokerIdentity("c", dict(IDS))) is None
    assert "cluster" in mismatch(marker, BrokerIdentity("other", dict(IDS)))
    assert "missing" in mismatch(marker, BrokerIdentity("c", {**IDS, "app-invoices-changelog": None}))
    assert "created again" in mismatch(marker, BrokerIdentity("c", {**IDS, "app-ledgers-changelog": "id-9"}))
    assert mismatch(None, BrokerIdentity("c", dict(IDS))) is None             # state from before markers
    assert "none of its changelog" in mismatch(None, BrokerIdentity("c", {t: None for t in IDS}))
    # a table added since the marker (or since a marker-less version) has no topic yet: not a refusal
    assert mismatch(marker, BrokerIdentity("c", {**IDS, "app-new-changelog": None})) is None
    assert mismatch(None, BrokerIdentity("c", {**IDS, "app-new-changelog": None})) is None


def test_local_state_is_tables_or_sent_log_and_is_moved_aside_not_deleted(tmp_path):
    state, sent = tmp_path / "worker-0", tmp_path / "sent"
    state.mkdir()
    (state / MARKER).write_text("{}")
    assert not has_local_state(state, [sent])
    (sent / "t1").mkdir(parents=True)
    (sent / "t1" / "sent.json").write_text("{}")
    assert has_local_state(state, [sent])
    moved = move_aside([state, sent])
    assert not has_local_state(state, [sent]) and (moved[1] / "t1" / "sent.json").exists()
    assert (next(state.glob(".stale-*")) / MARKER).exists()


def _worker(bootstrap, data, port, extra=()):
    command = None
    if extra:
        import sys
        command = [sys.executable, "-m", "cli.main", "worker", "--loglevel", "warn", *extra]
    return WorkerProcess(bootstrap, "localstate", data, web_port=port, command=command, extra_env={
        "BACKOFFICE_SCHEDULER_INTERVAL": "3600", "BACKOFFICE_SENT_LOG": str(data / "sent"),
        "BACKOFFICE_DOCUMENT_STORE": str(data / "docs"), "BACKOFFICE_SMTP_PORT": "1"})


def _ready(port) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200


@pytest.mark.integration
def test_a_worker_refuses_local_state_of_a_broker_that_is_gone(tmp_path):
    data, port = tmp_path / "data", free_port()
    marker = data / "worker-0" / MARKER
    with EmbeddedBroker(log_path=tmp_path / "a.log") as broker_a:
        create_topics(broker_a.bootstrap)
        first = _worker(broker_a.bootstrap, data, port).start()
        try:
            wait_until(lambda: _ready(port), 120, message="readyz on broker A")
        finally:
            first.stop()
        assert any((data / "worker-0").rglob("*.db*")), "the worker kept no tables on disk"
        (data / "sent" / "t1").mkdir(parents=True)
        (data / "sent" / "t1" / "sent.json").write_text(json.dumps({"tenant_id": "t1"}))
        # The same broker again: no refusal.
        again = _worker(broker_a.bootstrap, data, port).start()
        try:
            wait_until(lambda: _ready(port), 120, message="readyz on broker A again")
        finally:
            again.stop()
    a_marker = marker.read_text() if marker.exists() else None

    with EmbeddedBroker(log_path=tmp_path / "b.log") as broker_b:
        create_topics(broker_b.bootstrap)
        refused = _worker(broker_b.bootstrap, data, port).start()
        proc = refused.proc
        try:
            wait_until(lambda: proc.poll() is not None, 120, message="the worker on broker B to exit")
        finally:
            refused.stop()
        log = refused.log()
        assert proc.returncode != 0, log[-2000:]
        assert "does not belong to the broker" in log and "--reset-local-state" in log, log[-2000:]
        assert "BACKOFFICE_RESET_LOCAL_STATE" in log

        reset = _worker(broker_b.bootstrap, data, port, extra=["--reset-local-state"]).start()
        try:
            wait_until(lambda: _ready(port), 120, message="readyz on broker B after the reset")
            wait_until(lambda: marker.exists() and marker.read_text() != a_marker, 60, message="the marker of broker B")
        finally:
            reset.stop()
        stale = list((data / "sent").glob(".stale-*"))
        assert stale and (stale[0] / "t1" / "sent.json").exists()          # moved aside, not deleted
        assert list((data / "worker-0").glob(".stale-*"))
