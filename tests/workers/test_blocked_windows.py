"""Blocked windows come back, on a real worker: the scheduler closes a window the health check
refuses (a placement whose account never arrived: NO_BILLTO), sends it again on each cycle, the
ops API and the CLI say it is blocked, why and since when; once the account arrives, the next
cycle generates it, with no operator command, and every line is on exactly one invoice."""
import datetime as dt
import json
import uuid
from collections import Counter

import httpx
import pytest
from click.testing import CliRunner

from cli.main import _load_commands, cli
from infra.admin import create_topics
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, BILLING_OUTCOMES
from simulator.records import account_record, placement_record
from tests.api.stack import start_stack
from tests.workers.harness import produce, records_by, wait_drained, wait_until
from tests.workers.test_consolidate import _ts
from tests.workers.test_pipeline import invoice_events
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
WEEK = dt.date(2026, 9, 6)                   # WEEKLY:2026-09-06 runs Tue 2026-09-08 13:00 UTC
WINDOW = f"WEEKLY:{WEEK.isoformat()}"
CLOCK = "2026-09-09T12:00:00+00:00"
TOKEN = "ops-token"


def _account(tenant, entity):
    return ATS_ACCOUNTS, f"{tenant}:{entity}".encode(), encode("AccountUpserted",
                                                               account_record(tenant, entity, entity.title()))


def _placement(tenant, pid, account):
    return ATS_PLACEMENTS, f"{tenant}:{pid}".encode(), encode("PlacementUpserted",
                                                              placement_record(tenant, pid, account))


def _expected_lines(tenant, placements):
    """The simulator's timesheet record: 8 h REG a day and 2.5 h OT, one pay line per pay code."""
    return {f"{tenant}:{p}|TS|ts-{p}-{WEEK:%Y%m%d}|{code}" for p in placements for code in ("REG", "OT")}


def _window(api, tenant):
    answer = httpx.get(f"{api}/api/v1/tenants/{tenant}/windows", headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json(), next((w for w in answer.json()["windows"] if w["window_id"] == WINDOW), None)


def test_a_window_blocked_by_the_health_check_is_retried_until_the_data_is_fixed(kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    app_id = f"t{uuid.uuid4().hex[:10]}"
    tenant = f"{app_id}-b"
    env = {"BACKOFFICE_SCHEDULER_INTERVAL": "2", "BACKOFFICE_CLOCK": CLOCK,
           "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"), "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"),
           "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1"}
    # p2's account "ghost" is missing: the window's health check finds NO_BILLTO for its lines
    produce(kafka_bootstrap, [_account(tenant, "acme"), _placement(tenant, "p1", "acme"),
                              _placement(tenant, "p2", "ghost"), _ts(tenant, "p1", WEEK), _ts(tenant, "p2", WEEK)])
    # the worker, the projector and the ops API (`backoffice api`): windows are read from the read model
    stack = start_stack(kafka_bootstrap, app_id, tmp_path, {TOKEN: tenant}, env)
    worker = stack.workers[0]
    try:
        api = stack.base
        wait_drained(kafka_bootstrap, app_id, ingest_topics(app_id))
        first = f"close:{tenant}:{WINDOW}"
        blocked = wait_until(lambda: records_by(kafka_bootstrap, BILLING_OUTCOMES, "command_id", {first}).get(first),
                             120, message=f"the scheduler's close of {WINDOW}; log:\n{worker.log()[-2000:]}")[0]
        errors = {f["code"] for f in blocked["findings"] if f["severity"] == "ERROR"}
        assert not blocked["ok"] and errors == {"NO_BILLTO"}, blocked

        # sent again on the following cycles, still blocked; readable through the API and the CLI
        row = wait_until(lambda: (w := _window(api, tenant)[1]) and w["status"] == "BLOCKED" and w["attempts"] >= 3
                         and w, 120, message=f"{WINDOW} blocked after two retries; log:\n{worker.log()[-2000:]}")
        assert row["reason"].startswith("NO_BILLTO x2: ") and row["errors"] == 2, row
        assert row["since"] == row["last_attempt"] == CLOCK, row                  # the worker's (fixed) clock
        assert row["period_start"] == "2026-08-31", row
        answer, _ = _window(api, tenant)
        assert answer["served_here"] is True
        assert {w["status"] for w in answer["windows"] if w["window_id"] != WINDOW} <= {"CLOSED", "SCHEDULED"}
        _load_commands()
        printed = CliRunner().invoke(cli, ["windows", "--tenant", tenant, "--api", api, "--token", TOKEN])
        assert printed.exit_code == 0, printed.output
        line = next(x for x in printed.output.splitlines() if x.startswith(WINDOW))
        assert line.split()[1] == "BLOCKED" and "NO_BILLTO x2" in line and row["since"] in line, printed.output
        as_json = CliRunner().invoke(cli, ["windows", "--tenant", tenant, "--api", api, "--token", TOKEN, "--json"])
        assert as_json.exit_code == 0 and json.loads(as_json.output)["tenant_id"] == tenant, as_json.output
        refused = CliRunner().invoke(cli, ["windows", "--tenant", "someone-else", "--api", api, "--token", TOKEN])
        assert refused.exit_code != 0 and "403" in refused.output, refused.output

        # the account arrives; no operator command: a later cycle's retry generates the window
        produce(kafka_bootstrap, [_account(tenant, "ghost")])
        closed = wait_until(lambda: (w := _window(api, tenant)[1]) and w["status"] == "CLOSED" and w, 120,
                            message=f"{WINDOW} generated after the fix; log:\n{worker.log()[-2000:]}")
        assert closed["invoice_count"] == 2 and closed["reason"] is None, closed
        retries = {f"{first}:retry{n}" for n in range(1, 200)}
        answered = records_by(kafka_bootstrap, BILLING_OUTCOMES, "command_id", retries | {first})
        generated = [o for outs in answered.values() for o in outs if o["ok"]]
        assert len(generated) == 1 and len(generated[0]["invoice_ids"]) == 2, answered
        assert all(len(outs) == 1 for outs in answered.values()), answered       # each attempt ran once
        assert len(answered) >= 3
        docs = wait_until(lambda: (d := invoice_events(kafka_bootstrap, {tenant}))
                          and set(generated[0]["invoice_ids"]) <= set(d) and d, 120, message="invoice events")
        on_invoices = Counter(x["pay_line_id"] for rec in docs.values() for x in rec["lines"])
        assert set(on_invoices) == _expected_lines(tenant, ("p1", "p2")) and set(on_invoices.values()) == {1}
        assert "--- Logging error ---" not in worker.log()
    finally:
        stack.stop()
