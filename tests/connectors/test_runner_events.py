"""The connector runner in-process against the embedded broker and the loopback vendor
servers: what is decided when, across restarts, retries, dead letters and re-authorization."""
import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY

from cli.operator import command_record
from connectors.runner_jobs import Deliveries, Job
from infra.admin import create_topics
from infra.kafka import producer_config
from infra.readback import read_to_end
from schemas.codec import decode, encode
from schemas.topics import BILLING_COMMANDS, BILLING_INVOICES, connector_dead_letter_topic
from tests.connectors import xero_workload as workload
from tests.connectors.qbo_server import Limits as QboLimits, QboTestServer
from tests.connectors.runner_harness import Running, Setup, events, sync_results, synced_ids
from tests.connectors.xero_server import Limits, XeroTestServer
from tests.workers.harness import produce, wait_until

pytestmark = pytest.mark.integration


def _xero():
    return XeroTestServer(limits=Limits(minute=100_000, day=1_000_000, concurrent=10))


def _qbo():
    return QboTestServer(limits=QboLimits(minute=100_000, concurrent=10), time_scale=60)


def _resync(bootstrap, tenant, invoice_id):
    record = command_record(tenant, "RESYNC", invoice_id=invoice_id)
    produce(bootstrap, [(BILLING_COMMANDS, tenant.encode(), encode("OperatorCommand", record))])
    return record["command_id"]


def test_a_voided_that_arrives_with_its_recorded_voids_what_was_booked(kafka_bootstrap, tmp_path, unique_name):
    create_topics(kafka_bootstrap)
    tenant, docs = f"{unique_name}-a", workload.invoices(30, prefix=f"{unique_name}-")
    with _xero() as server:
        setup = Setup("xero", server, tmp_path)
        setup.add(tenant, "org-a")
        # catch-up: each invoice's RECORDED and VOIDED in the same poll, not synced before
        produce(kafka_bootstrap, [e for inv in docs for e in events(tenant, [inv]) + events(tenant, [inv], "VOIDED")])
        with Running(setup.runner(kafka_bootstrap, f"{unique_name}-g")):
            wait_until(lambda: len(server.book("org-a").documents["Invoices"]) == 30 and all(
                d["Status"] == "VOIDED" for d in server.book("org-a").documents["Invoices"].values()), 120,
                message="all 30 invoices voided in Xero")
        results = sync_results(kafka_bootstrap, {tenant})[tenant]
        assert {r["event_id"].rsplit(":", 1)[1] for r in results if r["status"] == "SYNCED"} == {"book", "void"}


def test_after_a_restart_a_credit_memo_is_voided_through_its_own_endpoint_and_a_resync_books_nothing_twice(
        kafka_bootstrap, tmp_path, unique_name):
    create_topics(kafka_bootstrap)
    tenant = f"{unique_name}-q"
    invoices = workload.invoices(4, prefix=f"{unique_name}-")
    memo = workload.credit_memo_for(invoices[0], 0, prefix=f"{unique_name}-")
    with _qbo() as server:
        setup = Setup("quickbooks", server, tmp_path)
        setup.add(tenant, "realm-q")
        group = f"{unique_name}-g"
        produce(kafka_bootstrap, events(tenant, [memo]) + events(tenant, invoices))    # the memo first
        with Running(setup.runner(kafka_bootstrap, group)):
            wait_until(lambda: len(synced_ids(kafka_bootstrap, tenant)) == 5, 120, message="5 documents synced")
        payments = server.documents("realm-q", "Payment")          # applied, not booked unallocated
        invoice_ext = server.documents("realm-q")[0]["Id"] if server.documents("realm-q")[0]["DocNumber"] == \
            invoices[0].number else next(d["Id"] for d in server.documents("realm-q") if d["DocNumber"] ==
                                         invoices[0].number)
        memo_ext = server.documents("realm-q", "CreditMemo")[0]["Id"]
        assert [{ln["LinkedTxn"][0]["TxnType"]: ln["LinkedTxn"][0]["TxnId"] for ln in p["Line"]} for p in payments] \
            == [{"Invoice": invoice_ext, "CreditMemo": memo_ext}]
        produce(kafka_bootstrap, events(tenant, [memo], "VOIDED"))
        command = _resync(kafka_bootstrap, tenant, invoices[1].invoice_id)
        with Running(setup.runner(kafka_bootstrap, group)):       # restarted: history from billing.sync only
            wait_until(lambda: server.documents("realm-q", "CreditMemo")[0].get("status") == "delete", 120,
                       message="the credit memo deleted (QBO's void of a credit memo)")
            wait_until(lambda: any(command in r["event_id"] for r in sync_results(kafka_bootstrap, {tenant})[tenant]),
                       120, message="a fresh SYNCED event for the resync")
        assert sorted(d["DocNumber"] for d in server.documents("realm-q")) == sorted(i.number for i in invoices)
        assert all(d.get("status") is None for d in server.documents("realm-q"))        # no invoice voided
        resynced = [r for r in sync_results(kafka_bootstrap, {tenant})[tenant]
                    if r["invoice_id"] == invoices[1].invoice_id and r["status"] == "SYNCED"]
        assert len(resynced) == 2 and len({r["event_id"] for r in resynced}) == 2
        assert resynced[0]["external_id"] == resynced[1]["external_id"]


def test_a_document_failing_past_the_retry_budget_is_dead_lettered_and_reported_failed(kafka_bootstrap, tmp_path,
                                                                                       unique_name):
    create_topics(kafka_bootstrap)
    tenant, docs = f"{unique_name}-f", workload.invoices(2, prefix=f"{unique_name}-")
    dead_before, retries_before = _dead_lettered(BILLING_INVOICES), _retries("quickbooks")
    with _qbo() as server:
        server.inject("realm-f", "5xx", count=1_000_000, path="batch")      # QBO keeps failing
        setup = Setup("quickbooks", server, tmp_path, limits={"backoff_initial": 0.01, "backoff_max": 0.02})
        setup.add(tenant, "realm-f")
        produce(kafka_bootstrap, events(tenant, docs))
        with Running(setup.runner(kafka_bootstrap, f"{unique_name}-g", attempts=2)):
            # both documents: they may be retried in separate batches, each past its own budget
            results = wait_until(lambda: (f := [r for r in sync_results(kafka_bootstrap, {tenant}).get(tenant, [])
                                                if r["status"] == "FAILED"]) and len({r["invoice_id"] for r in f}) == 2
                                 and f, 120, message="FAILED results for both documents")
            dlq = wait_until(lambda: (d := [m for m in read_to_end(kafka_bootstrap, connector_dead_letter_topic("quickbooks"))
                                            if decode(m.value()).record["tenant_id"] == tenant]) and len(d) >= 2 and d,
                             120, message="dead letters for both documents")
        assert {r["invoice_id"] for r in results} == {d.invoice_id for d in docs}
        assert sorted(m.key() for m in dlq) == sorted(d.invoice_id.encode() for d in docs)
        assert server.documents("realm-f") == []
        assert _dead_lettered(BILLING_INVOICES) - dead_before == 2 and _retries("quickbooks") > retries_before


def _dead_lettered(topic):
    """backoffice_dead_lettered_total for a source topic, over every reason (this process's registry)."""
    return sum(sample.value for family in REGISTRY.collect() if family.name == "backoffice_dead_lettered"
               for sample in family.samples if sample.name.endswith("_total") and sample.labels["topic"] == topic)


def _retries(system):
    return REGISTRY.get_sample_value("backoffice_retries_total", {"system": system}) or 0.0


def test_a_tenant_paused_for_reauthorization_resumes_once_its_token_store_holds_a_grant(kafka_bootstrap, tmp_path,
                                                                                      unique_name):
    create_topics(kafka_bootstrap)
    good, revoked = f"{unique_name}-a", f"{unique_name}-b"
    docs, theirs = workload.invoices(6, prefix=f"{unique_name}-"), workload.invoices(6, prefix=f"{unique_name}-b-")
    with _xero() as server:
        setup = Setup("xero", server, tmp_path)
        setup.add(good, "org-a")
        setup.add(revoked, "org-b", revoked=True)
        produce(kafka_bootstrap, events(good, docs) + events(revoked, theirs))
        with Running(setup.runner(kafka_bootstrap, f"{unique_name}-g", reauth_check=0.2)) as runner:
            wait_until(lambda: len(synced_ids(kafka_bootstrap, good)) == 6 and revoked in runner.paused, 120,
                       message="good tenant synced, revoked tenant paused")
            assert server.book("org-b").documents["Invoices"] == {}
            setup.reconnect(revoked, "org-b")                    # `backoffice connect` after the pause
            wait_until(lambda: len(synced_ids(kafka_bootstrap, revoked)) == 6, 120, message="resumed tenant synced")
            assert revoked not in runner.paused
        statuses = [r["status"] for r in sync_results(kafka_bootstrap, {revoked})[revoked]]
        assert "NEEDS_REAUTH" in statuses and statuses[-1] == "SYNCED"
        assert sorted(d["InvoiceNumber"] for d in server.book("org-b").documents["Invoices"].values()) == \
            sorted(d.number for d in theirs)


def test_a_job_is_finished_only_when_the_broker_confirmed_its_outcome(kafka_bootstrap, unique_name):
    import asyncio

    finished = []
    topic = f"billing.{unique_name}-outcomes"   # not billing.sync: other tests decode every record there
    for bootstrap, expected in ((kafka_bootstrap, True), ("127.0.0.1:9", False)):      # nothing listens on :9
        producer = Producer({**producer_config(bootstrap), "message.timeout.ms": 1000})
        deliveries = Deliveries(producer, finished.append)
        job = Job(BILLING_INVOICES, 0, 7, None, b"", "book")
        deliveries.produce(job, topic, b"k", b"not an event")
        deliveries.produce(job, topic, b"k", b"not an event either")
        assert job not in finished                          # produced is not confirmed
        asyncio.run(deliveries.flush(5))
        assert (job in finished) is expected and deliveries.open == 0


def test_a_tenant_without_a_mapping_is_paused_naming_the_setting_and_resumes_once_it_is_stored(
        kafka_bootstrap, tmp_path, unique_name):
    """Issue 14: never book with guessed ids (QBO account "1", TAX/NON): the tenant waits for
    `backoffice connect --reconfigure`, its documents reported NEEDS_REAUTH with the reason."""
    from tests.connectors.runner_harness import MAPPINGS

    create_topics(kafka_bootstrap)
    tenant, docs = f"{unique_name}-m", workload.invoices(3, prefix=f"{unique_name}-")
    with _qbo() as server:
        setup = Setup("quickbooks", server, tmp_path)
        setup.add(tenant, "realm-m", mapped=False)
        produce(kafka_bootstrap, events(tenant, docs))
        with Running(setup.runner(kafka_bootstrap, f"{unique_name}-g", reauth_check=0.5)):
            wait_until(lambda: any(r["status"] == "NEEDS_REAUTH" for r in sync_results(kafka_bootstrap, {tenant})
                                   .get(tenant, [])), 120, message="the unmapped tenant reported")
            assert server.documents("realm-m") == [] and server.requests == []      # not one call
            paused = [r for r in sync_results(kafka_bootstrap, {tenant})[tenant] if r["status"] == "NEEDS_REAUTH"]
            assert "'income_account'" in paused[0]["error"]
            setup.store.save_mapping(f"quickbooks-{tenant}", MAPPINGS["quickbooks"])
            wait_until(lambda: len(synced_ids(kafka_bootstrap, tenant)) == 3, 120, message="synced once mapped")
        assert sorted(d["DocNumber"] for d in server.documents("realm-m")) == sorted(d.number for d in docs)
