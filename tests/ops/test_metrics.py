"""/metrics, /healthz and /readyz of a real worker process on the test broker (emailing a real
SMTP server): families present, and the counters of what the test did moved by exactly that."""
import datetime as dt

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infra.admin import create_topics
from infra.broker import free_port
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.documents.smtp import RecordingHandler, SmtpServer
from tests.workers.harness import WorkerProcess, produce, wait_drained, wait_until
from tests.workers.test_pipeline import command, outcomes
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
OWN = ["backoffice_events_consumed_total", "backoffice_dead_lettered_total", "backoffice_pay_lines",
       "backoffice_windows_closed_total", "backoffice_invoices_generated_total", "backoffice_documents_rendered_total",
       "backoffice_document_render_seconds", "backoffice_emails_sent_total", "backoffice_syncs_total",
       "backoffice_sync_latency_seconds", "backoffice_retries_total", "backoffice_http_429_total"]
LAG = ["kafka_consumergroup_group_lag", "kafka_consumergroup_group_lag_seconds", "kafka_consumergroup_group_max_lag",
       "kafka_consumergroup_group_max_lag_seconds", "kafka_consumergroup_group_offset",
       "kafka_partition_latest_offset", "kafka_consumergroup_group_sum_lag"]


def _scrape(port):
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = {}
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return names, samples


def _value(samples, name, **labels):
    return sum(v for lab, v in samples.get(name, []) if all(lab.get(k) == x for k, x in labels.items()))


@pytest.fixture
def smtp():
    with SmtpServer(RecordingHandler()) as server:
        yield server


def test_worker_metrics_health_and_readiness(kafka_bootstrap, tmp_path, unique_name, smtp):
    create_topics(kafka_bootstrap)
    t, port = unique_name, free_port()
    produce(kafka_bootstrap, [
        (ATS_ACCOUNTS, f"{t}:acme".encode(), encode("AccountUpserted", account_record(t, "acme", "Acme Inc"))),
        (ATS_PLACEMENTS, f"{t}:p1".encode(), encode("PlacementUpserted", placement_record(t, "p1", "acme"))),
        (ATS_TIMESHEETS, f"{t}:p1".encode(), b"\x00garbage")])
    worker = WorkerProcess(kafka_bootstrap, t, tmp_path, web_port=port,
                           extra_env={"BACKOFFICE_SCHEDULER_INTERVAL": "3600", "BACKOFFICE_LAG_INTERVAL": "1",
                                      "BACKOFFICE_PAYLINE_GAUGE_INTERVAL": "1",
                                      "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"),
                                      "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"),
                                      "BACKOFFICE_SMTP_PORT": str(smtp.port), "BACKOFFICE_SMTP_ATTEMPTS": "1",
                                      "BACKOFFICE_CLOCK": "2026-09-10T12:00:00+00:00"}).start()
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["status"] == "ok", 120,
                   message="healthz")
        ready = wait_until(lambda: (r := httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)).status_code == 200
                           and r.json(), 120, message="readyz")
        assert ready["ready"] and ready["assigned_partitions"] > 0
        wait_drained(kafka_bootstrap, t, ingest_topics(t))
        names, before = wait_until(lambda: (x := _scrape(port)) and _value(x[1], "kafka_consumergroup_group_lag",
                                                                             group=t) == 0
                                   and _value(x[1], "kafka_partition_latest_offset") > 0 and x, 120,
                                   message="lag metrics of the drained group")
        missing = [n for n in OWN + LAG if n.removesuffix("_total") not in names]    # families drop _total
        assert not missing, missing
        lag_labels = {tuple(sorted(lab)) for lab, _ in before["kafka_consumergroup_group_lag"]}
        assert lag_labels == {("group", "partition", "topic")}
        assert _value(before, "backoffice_dead_lettered_total", topic=ATS_TIMESHEETS, reason="DecodeError") >= 1
        consumed = _value(before, "backoffice_events_consumed_total", topic=ATS_PLACEMENTS)
        assert consumed >= 1

        produce(kafka_bootstrap, [(ATS_TIMESHEETS, f"{t}:p1".encode(), encode(
            "TimesheetApproved", timesheet_record(t, "p1", dt.date(2026, 9, 6))))])
        wait_drained(kafka_bootstrap, t, ingest_topics(t))      # the approval is on its ledger before the Collect
        produce(kafka_bootstrap, [command(t, f"{t}-gen", "GENERATE")])
        generated = wait_until(lambda: outcomes(kafka_bootstrap, {f"{t}-gen"}), 120, message="generate outcome")
        [invoice_id] = generated[f"{t}-gen"]["invoice_ids"]
        for kind in ("RECORD", "SEND"):
            produce(kafka_bootstrap, [command(t, f"{t}-{kind}", kind, invoice_id=invoice_id)])
            done = wait_until(lambda kind=kind: outcomes(kafka_bootstrap, {f"{t}-{kind}"}), 120, message=kind)
            assert done[f"{t}-{kind}"]["ok"] and "left out" not in done[f"{t}-{kind}"]["message"], done
        _, after = wait_until(lambda: (x := _scrape(port)) and
                              _value(x[1], "backoffice_invoices_generated_total", kind="INVOICE") >= 1 and
                              _value(x[1], "backoffice_pay_lines", status="INVOICED") >= 2 and x, 120,
                              message="counters to move")
        assert _value(after, "backoffice_events_consumed_total", topic=ATS_TIMESHEETS) > \
            _value(before, "backoffice_events_consumed_total", topic=ATS_TIMESHEETS)
        assert _value(after, "backoffice_windows_closed_total", outcome="generated") >= 1

        def moved(name, **labels):
            return _value(after, name, **labels) - _value(before, name, **labels)

        assert moved("backoffice_documents_rendered_total", kind="INVOICE") == 2      # the invoice + timesheet report
        assert moved("backoffice_document_render_seconds_count") == 1
        assert moved("backoffice_emails_sent_total", outcome="sent") == 1 and len(smtp.handler.received) == 1
        assert moved("backoffice_emails_sent_total", outcome="failed") == 0
    finally:
        worker.stop()
