"""The ops API (api/) on a SQLite read model filled through the real projection (readmodel.rows
from real encoded events, readmodel.store), with a command bus that records what it would publish
(the integration test, tests/api/test_live.py, publishes on the real broker)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infra.settings import load_settings
from readmodel.db import engine_for, migrate
from readmodel.rows import Message, build
from readmodel.store import store
from schemas.codec import encode
from schemas.topics import BILLING_INVOICES, BILLING_OUTCOMES, BILLING_PAYLINES, BILLING_SYNC

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.timezone.utc)
NOW = dt.datetime(2026, 11, 25, 9, tzinfo=dt.timezone.utc)
TOKENS = {"root-token": "*", "a-token": "ta", "b-token": "tb"}
SCHEMA = {BILLING_PAYLINES: "PayLineEvent", BILLING_INVOICES: "InvoiceEvent", BILLING_OUTCOMES: "CommandOutcome",
          BILLING_SYNC: "SyncResult"}


class RecordingBus:
    """What the API would publish; outcomes are answered from `answers` (command kind -> outcome)."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, records, wait):
        self.published.extend(records)
        return {}

    def read_your_writes(self, command_ids, timeout):
        return "caught up"


def fill(engine, events: dict[str, list[dict]]) -> None:
    """Store events as the projector does: encoded, decoded by readmodel.rows, one transaction per topic."""
    start: dict = {}
    for topic, records in events.items():
        batch = build([Message(topic, 0, i, b"k", encode(SCHEMA[topic], r)) for i, r in enumerate(records)], AT)
        store(engine, "g", dict(start), batch)
        start.update(batch.positions)


def make_client(tmp_path, events: dict[str, list[dict]], **settings) -> tuple[TestClient, RecordingBus, object]:
    engine = engine_for(f"sqlite:///{tmp_path / 'readmodel.sqlite3'}")
    migrate(engine)
    fill(engine, events)
    bus = RecordingBus()
    app = create_app(load_settings(data_dir=tmp_path, ops_tokens=json.dumps(TOKENS), **settings), engine=engine,
                     bus=bus, now=lambda: NOW)
    return TestClient(app), bus, app


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def outcome(tenant: str, command_id: str, command: str, ok: bool, at: dt.datetime, findings=(), batch_id=None,
            invoice_ids=(), message="") -> dict:
    return {"event_id": f"out-{command_id}", "tenant_id": tenant, "occurred_at": at, "command_id": command_id,
            "command": command, "ok": ok, "message": message or ("ok" if ok else "refused"),
            "findings": [{"severity": s, "code": c, "message": m, "ref": r} for s, c, m, r in findings],
            "batch_id": batch_id, "invoice_ids": list(invoice_ids)}


def world() -> dict[str, list[dict]]:
    """Two tenants: `ta` with pay lines, a batch B-1 of an invoice (114, recorded, synced) and a credit
    memo (115), a blocked window retried once, a closed one and a refused one; `tb` with its own
    invoice numbered 114 in batch B-9."""
    from tests.readmodel.test_queries import _invoice, _paylines

    day = dt.timedelta(days=1)
    return {
        BILLING_PAYLINES: _paylines("ta", "p1", "ACC-1") + _paylines("ta", "p2", "ACC-2") + _paylines("tb", "p1",
                                                                                                      "ACC-1"),
        BILLING_INVOICES: [_invoice("ta", "inv-a", "114", "B-1"), _invoice("ta", "inv-a", "114", "B-1",
                                                                           status="RECORDED",
                                                                           document_uris=["file:///d/inv-a.pdf"]),
                           _invoice("ta", "inv-b", "115", "B-1", kind="CREDIT_MEMO", account=("ACC-2", "Initech")),
                           _invoice("tb", "inv-c", "114", "B-9")],
        BILLING_SYNC: [{"event_id": "s1", "tenant_id": "ta", "occurred_at": AT, "invoice_id": "inv-a",
                        "number": "114", "system": "xero", "external_id": "X-1", "status": "SYNCED", "error": None,
                        "attempts": 1}],
        BILLING_OUTCOMES: [
            outcome("ta", "close:ta:WEEKLY:2026-11-08", "CLOSE_WINDOW", True, AT - 9 * day, batch_id="B-1",
                    invoice_ids=["inv-a", "inv-b"]),
            outcome("ta", "close:ta:WEEKLY:2026-11-15", "CLOSE_WINDOW", False, AT - 3 * day,
                    findings=[("ERROR", "NO_BILLTO", "pay line ta:p2|x: no Billto", "ta:p2|x")]),
            outcome("ta", "close:ta:WEEKLY:2026-11-15:retry1", "CLOSE_WINDOW", False, AT - 2 * day,
                    findings=[("ERROR", "NO_BILLTO", "pay line ta:p2|x: no Billto", "ta:p2|x"),
                              ("ERROR", "MISSING_BILL_RATE", "pay line ta:p2|y: no OT bill rate", "ta:p2|y")]),
            outcome("ta", "close:ta:MONTHLY:2026-10-31", "CLOSE_WINDOW", False, AT - 20 * day,
                    message="refused: NumberReused"),
            outcome("ta", "g-1", "GENERATE", True, AT - day, batch_id="B-2",
                    findings=[("WARNING", "AP_CONTACT_NO_EMAIL", "Globex has no AP email", "ACC-1")]),
            outcome("tb", "close:tb:WEEKLY:2026-11-15", "CLOSE_WINDOW", True, AT, batch_id="B-9",
                    invoice_ids=["inv-c"]),
        ],
    }


@pytest.fixture
def api(tmp_path):
    client, bus, app = make_client(tmp_path, world())
    yield client, bus, app
    app.state.engine.dispose()
