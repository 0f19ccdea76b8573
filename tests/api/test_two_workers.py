"""Issue 16's point: with two workers, each holding part of the partitions, the ops API's answers
are complete. The simulator's expected pay lines are the oracle: List Batches after a generate
through the API sums to exactly the lines due, and the lines listing shows each of them invoiced."""
from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from simulator.publish import publish
from tests.api.stack import start_stack
from tests.api.test_live import api_worker_env
from tests.reliability.test_tenant_isolation import AS_OF, CLOCK, tenant_stream
from tests.workers.harness import wait_drained
from tests.workers.oracle import due_by
from workers.names import ingest_topics

# two workers, a projector and the API on 2 cores: about a minute, so in make test-reliability
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]


def test_two_workers_every_answer_is_complete(kafka_bootstrap, tmp_path, unique_name):
    from infra.admin import create_topics

    create_topics(kafka_bootstrap)
    tenant = f"{unique_name}-two"
    stream = tenant_stream(tenant, f"MARK{unique_name}", placements=8, weeks=3)
    expected = due_by(stream.expected_pay_lines, AS_OF)
    assert len(expected) > 10
    publish(stream, kafka_bootstrap)
    env = {**api_worker_env(tmp_path), "BACKOFFICE_CLOCK": CLOCK, "BACKOFFICE_ORPHAN_GRACE_SECONDS": "0"}
    stack = start_stack(kafka_bootstrap, unique_name, tmp_path, {"t": tenant}, env, workers=2, web_ports=True)
    auth = {"Authorization": "Bearer t"}
    url = f"{stack.base}/api/v1/tenants/{tenant}"
    try:
        wait_drained(kafka_bootstrap, unique_name, ingest_topics(unique_name))
        r = httpx.post(f"{url}/commands/generate?wait=120", json={"as_of": AS_OF.isoformat()}, headers=auth,
                       timeout=180)
        assert r.status_code == 202 and r.json()["read_model"] == "caught up", (r.text, stack.logs())
        (outcome,) = r.json()["outcomes"].values()
        assert outcome["ok"] and outcome["invoice_ids"], outcome
        listing = httpx.get(f"{url}/batches", headers=auth, timeout=30).json()
        total = sum(Decimal(b["amount_timesheets"]) + Decimal(b["amount_products_services"])
                    for b in listing["batches"])
        assert total == sum(expected.values()), (total, sum(expected.values()))
        assert sum(b["invoice_count"] + b["credit_memo_count"] for b in listing["batches"]) == len(outcome["invoice_ids"])
        lines = httpx.get(f"{url}/lines?status=INVOICED", headers=auth, timeout=30).json()["items"]
        assert {x["pay_line_id"]: Decimal(x["amount"]) for x in lines} == expected
        # both workers really took part: each holds some of the partitions
        held = [httpx.get(f"http://127.0.0.1:{w.web_port}/readyz", timeout=10).json()["assigned_partitions"]
                for w in stack.workers]
        assert all(held), (held, stack.logs())
    finally:
        stack.stop()
