"""The ops API as deployed: a billing worker, `backoffice projector` and `backoffice api` as real
processes on the embedded broker. A generate through the API with ?wait shows its batch in the very
next read (read your writes, no polling), and the answers agree with the topics themselves."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from infra.admin import create_topics
from infra.broker import free_port
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.api.stack import start_stack
from tests.workers.harness import produce, wait_drained
from tests.workers.test_pipeline import invoice_events
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
WEEK = dt.date(2026, 9, 6)
PER_TIMESHEET = Decimal("1260.00") + Decimal("118.13")     # 40 h x 31.50, 2.5 h x 47.25 rounded half-up


def api_worker_env(data) -> dict:
    """A worker on a fixed clock, with no scheduler, SMTP or sync noise."""
    return {"BACKOFFICE_SCHEDULER_INTERVAL": "3600", "BACKOFFICE_DOCUMENT_STORE": str(data / "docs"),
            "BACKOFFICE_SENT_LOG": str(data / "sent"), "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1",
            "BACKOFFICE_CLOCK": "2026-09-10T12:00:00+00:00"}


@pytest.fixture(scope="module")
def live(kafka_bootstrap, tmp_path_factory):
    create_topics(kafka_bootstrap)
    tenant = f"live{free_port()}"
    produce(kafka_bootstrap, [
        (ATS_ACCOUNTS, f"{tenant}:acme".encode(), encode("AccountUpserted", account_record(tenant, "acme", "Acme"))),
        *[(ATS_PLACEMENTS, f"{tenant}:{p}".encode(), encode("PlacementUpserted", placement_record(tenant, p, "acme")))
          for p in ("p1", "p2")],
        *[(ATS_TIMESHEETS, f"{tenant}:{p}".encode(), encode("TimesheetApproved", timesheet_record(tenant, p, WEEK)))
          for p in ("p1", "p2")]])
    data = tmp_path_factory.mktemp("api-live")
    tokens = {"root-token": "*", "tenant-token": tenant, "other-token": "someone-else"}
    stack = start_stack(kafka_bootstrap, tenant, data, tokens, api_worker_env(data))
    try:
        wait_drained(kafka_bootstrap, tenant, ingest_topics(tenant))
        yield stack, tenant
    finally:
        stack.stop()


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_generate_with_wait_shows_the_batch_in_the_next_read(live, kafka_bootstrap):
    stack, tenant = live
    url = f"{stack.base}/api/v1/tenants/{tenant}"
    assert httpx.get(f"{url}/batches").status_code == 401
    assert httpx.get(f"{url}/batches", headers=_auth("other-token")).status_code == 403
    r = httpx.post(f"{url}/commands/generate?wait=120", json={"as_of": "2026-09-10"}, headers=_auth("root-token"),
                   timeout=150)
    assert r.status_code == 202, r.text
    answer = r.json()
    (command_id, outcome), = answer["outcomes"].items()
    assert outcome is not None and outcome["ok"] and len(outcome["invoice_ids"]) == 1, (answer, stack.logs())
    assert answer["read_model"] == "caught up", answer
    # the very next reads show it: no waiting, no retry
    listing = httpx.get(f"{url}/batches", headers=_auth("tenant-token")).json()
    assert listing["coverage"] == "complete"
    (batch,) = listing["batches"]
    assert batch["batch_id"] == outcome["batch_id"] and batch["invoice_count"] == 1
    assert batch["amount_timesheets"] == str(2 * PER_TIMESHEET) and batch["sync_status"] == {"NOT_SYNCED": 1}
    assert listing["pending"]["pay_lines"] == 0
    docs = httpx.get(f"{url}/batches/{batch['batch_id']}/invoices", headers=_auth("tenant-token")).json()["invoices"]
    assert [d["invoice_id"] for d in docs] == outcome["invoice_ids"]
    # against the topic itself: the generated event's number, total and lines
    (event,) = invoice_events(kafka_bootstrap, {tenant}).values()
    detail = httpx.get(f"{url}/invoices/{event['number']}", headers=_auth("tenant-token")).json()
    assert detail["invoice_id"] == event["invoice_id"] and detail["total"] == str(event["total"])
    assert len(detail["lines"]) == len(event["lines"]) == 4 and detail["history"][0]["status"] == "NEW"
    health = httpx.get(f"{url}/health", headers=_auth("tenant-token")).json()
    assert health["ok"] and health["command_id"] == command_id
    # a command naming the new invoice by number goes through the door
    r = httpx.post(f"{url}/commands/resync", json={"invoice_id": event["number"]}, headers=_auth("tenant-token"),
                   timeout=30)
    assert r.status_code == 202, r.text


def test_readyz_metrics_and_openapi(live):
    stack, _ = live
    ready = httpx.get(f"{stack.base}/readyz").json()
    assert ready["ready"] and ready["projector_behind"] is not None
    assert httpx.get(f"{stack.base}/metrics").status_code == 200
    assert httpx.get(f"{stack.base}/openapi.json").status_code == 401
    doc = httpx.get(f"{stack.base}/openapi.json", headers=_auth("root-token")).json()
    assert "/api/v1/tenants/{tenant}/commands/generate" in doc["paths"]


def test_without_a_projector_the_answer_says_the_read_model_lags(live):
    """Last in the module: it stops the projector. The outcome still arrives from the broker; the
    API says reads do not show it yet instead of pretending."""
    stack, tenant = live
    stack.projector.stop()
    r = httpx.post(f"{stack.base}/api/v1/tenants/{tenant}/commands/generate?wait=20", json={"as_of": "2026-09-10"},
                   headers=_auth("root-token"), timeout=60)
    assert r.status_code == 202, r.text
    (outcome,) = r.json()["outcomes"].values()
    assert outcome is not None and outcome["ok"], (r.json(), stack.logs())
    assert "has not caught up" in r.json()["read_model"] and "backoffice projector" in r.json()["read_model"]
