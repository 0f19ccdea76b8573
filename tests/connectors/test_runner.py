"""The connector worker as a real process: billing.invoices in, Xero (loopback test server)
and billing.sync out. Exactly once across a kill -9; a revoked tenant pauses alone."""
import os
import signal
import subprocess
import sys

import pytest
import yaml
from cryptography.fernet import Fernet

from connectors.oauth import seed
from connectors.runner import OffsetTracker, Job
from connectors.tokens import FernetFileStore
from infra.admin import create_topics
from schemas.topics import BILLING_INVOICES
from tests.connectors import xero_workload as workload
from tests.connectors.runner_harness import MAPPINGS, events, sync_results
from tests.connectors.qbo_server import Limits as QboLimits, QboTestServer
from tests.connectors.xero_server import Limits, XeroTestServer
from tests.workers.harness import ROOT, produce, wait_until

pytestmark = pytest.mark.integration


_events, _sync = events, sync_results       # shared with the in-process runner tests


def _start(system, env, log):
    return subprocess.Popen([sys.executable, "-m", "cli.main", "connector", system, "--backoff", "0.05"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


class _Xero:
    """The Xero test server seen by this test: grants per organisation, books per organisation."""

    def __init__(self):
        self.server = XeroTestServer(limits=Limits(minute=100_000, day=1_000_000, concurrent=10))

    def connection(self, org, revoked=False):
        token = self.server.issue_grant(org)
        if revoked:
            self.server.revoke_grants_of(org)
        return token, {"xero_tenant_id": org}

    def numbers(self, org):
        return [d["InvoiceNumber"] for d in self.server.book(org).documents["Invoices"].values()]

    def memo_numbers(self, org):
        return [d["CreditNoteNumber"] for d in self.server.book(org).documents["CreditNotes"].values()]

    def applied(self, org):
        """{credit note number: [numbers of the invoices it is allocated to]}"""
        notes = self.server.book(org).documents["CreditNotes"].values()
        return {n["CreditNoteNumber"]: [a["Invoice"]["InvoiceNumber"] for a in n["Allocations"]] for n in notes}


class _Qbo:
    def __init__(self):
        self.server = QboTestServer(limits=QboLimits(minute=100_000, concurrent=10), time_scale=60)

    def connection(self, org, revoked=False):
        token = self.server.issue_refresh_token()
        if revoked:
            self.server.revoke(token)
        return token, {"realm_id": org}

    def numbers(self, org):
        return [d["DocNumber"] for d in self.server.documents(org)]

    def memo_numbers(self, org):
        return [d["DocNumber"] for d in self.server.documents(org, "CreditMemo")]

    def applied(self, org):
        out = {n: [] for n in self.memo_numbers(org)}
        for links, _ in self.server.credit_applications(org):
            out[links["CreditMemo"][0]].append(links["Invoice"][0])
        return out


@pytest.mark.parametrize("system", ["xero", "quickbooks"])
def test_each_document_lands_once_across_a_kill9_and_a_revoked_tenant_pauses_alone(kafka_bootstrap, tmp_path,
                                                                                   unique_name, system):
    create_topics(kafka_bootstrap)
    good, revoked = f"{unique_name}-a", f"{unique_name}-b"
    vendor = _Xero() if system == "xero" else _Qbo()
    with vendor.server as server:
        key = Fernet.generate_key().decode()
        store = FernetFileStore(tmp_path / "tokens", key)
        config = {"tenants": {}}
        for tenant, org, is_revoked in ((good, "org-a", False), (revoked, "org-b", True)):
            token, ids = vendor.connection(org, is_revoked)
            seed(store, f"{system}-{tenant}", token)
            store.save_mapping(f"{system}-{tenant}", MAPPINGS[system])
            config["tenants"][tenant] = {"system": system, "base_url": server.base_url, "token_url": server.token_url,
                                         "client_id": "test-client", "client_secret_env": "XERO_SECRET", **ids}
        (tmp_path / "connectors.yaml").write_text(yaml.safe_dump(config))
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PYTHONPATH": str(ROOT),
               "BACKOFFICE_CONNECTORS_CONFIG": str(tmp_path / "connectors.yaml"), "XERO_SECRET": "test-secret",
               "BACKOFFICE_TOKEN_DIR": str(tmp_path / "tokens"), "BACKOFFICE_TOKEN_KEY": key}
        docs = workload.invoices(120, prefix=f"{unique_name}-")
        memos = [workload.credit_memo_for(docs[k * 7], k, prefix=f"{unique_name}-") for k in range(12)]
        theirs = workload.invoices(5, prefix=f"{unique_name}-b-")
        # memos first: each waits for the invoice it credits, never booked unallocated
        produce(kafka_bootstrap, _events(good, memos) + _events(good, docs) + _events(revoked, theirs, "RECORDED"))
        log = open(tmp_path / "connector.log", "ab")
        proc = _start(system, env, log)
        try:
            wait_until(lambda: len(vendor.numbers("org-a")) >= 20, 120,
                       message=f"first documents; log:\n{(tmp_path / 'connector.log').read_text()[-2000:]}")
            os.killpg(proc.pid, signal.SIGKILL)                # between the vendor's commit and ours
            proc.wait(10)
            produce(kafka_bootstrap, _events(good, docs[:10], "SENT"))      # later status changes: no re-booking
            proc = _start(system, env, log)
            results = wait_until(lambda: (s := _sync(kafka_bootstrap, {good, revoked})) and
                                 len({r["invoice_id"] for r in s.get(good, []) if r["status"] == "SYNCED"}) == 132
                                 and s.get(revoked) and s, 180, message=f"all synced; log:\n{(tmp_path / 'connector.log').read_text()[-2000:]}")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
        assert sorted(vendor.numbers("org-a")) == sorted(d.number for d in docs)     # every document, exactly once
        assert sorted(vendor.memo_numbers("org-a")) == sorted(m.number for m in memos)
        assert vendor.applied("org-a") == {m.number: [docs[k * 7].number] for k, m in enumerate(memos)}
        assert {r["status"] for r in results[revoked]} == {"NEEDS_REAUTH"}
        assert vendor.numbers("org-b") == []
        assert store.load(f"{system}-{revoked}").needs_reauth
        assert "test-secret" not in (tmp_path / "connector.log").read_text()


def test_offsets_commit_below_the_lowest_unfinished_document():
    tracker = OffsetTracker()
    jobs = [Job(BILLING_INVOICES, 0, o, None, b"", "book") for o in range(5)]
    for job in jobs:
        tracker.add(job)
    tracker.done(jobs[0])
    tracker.done(jobs[2])
    assert [(tp.partition, tp.offset) for tp in tracker.to_commit()] == [(0, 1)]
    tracker.mark_committed(tracker.to_commit())
    for job in jobs[1:]:
        tracker.done(job)
    assert [(tp.partition, tp.offset) for tp in tracker.to_commit()] == [(0, 5)]
