"""Issue 12, item 6: secrets never reach a sink. Every secret the system holds is configured with
a unique marker (OAuth tokens the vendor mints, the connection's client secret, the token
store's Fernet key, the SMTP password, the ops API tokens, and a wrong token a caller presents),
then a real worker, a Xero connector and the mail path run the hostile corpus (dead letters,
refused commands), an SMTP login refused, a vendor 401 (expired token, refreshed) and a vendor
outage past the retry budget (connector dead letter). Then every sink is searched for every
marker: worker and connector logs (JSON and text, tracebacks included), every *.dlq topic,
billing.invoices/outcomes/sync and the worker's own topics (bytes), /metrics, stored PDFs (text
and raw bytes), e-mails received and every file under the data dir (the token files must hold
no plaintext). The sweep can fail: `check_sweep_can_fail` plants a secret in a copy of the sinks
(and logging the SMTP password or a refresh token in the product code was seen to fail it).
The unmarked variant logs at INFO in JSON; the reliability one at DEBUG, in JSON then, after a
restart, in text, and also sweeps the worker's internal topics and table changelogs.
"""
from __future__ import annotations

import io
import json
import logging
import secrets as _secrets
import sys
import types
import uuid
from base64 import urlsafe_b64decode, urlsafe_b64encode
from pathlib import Path

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from prometheus_client import REGISTRY, generate_latest

from infra.admin import create_topics
from infra.broker import free_port
from connectors.tokens import SUFFIX
from infra.readback import read_to_end
from ops.logs import make_handler
from schemas.codec import encode
from schemas.topics import BILLING_COMMANDS, BILLING_INVOICES, BILLING_SYNC, connector_dead_letter_topic
from tests.connectors import xero_server as xero_module
from tests.connectors.runner_harness import Running, Setup
from tests.connectors.xero_server import XeroTestServer
from tests.documents.pdfs import pdf_text
from tests.documents.smtp import Authenticator, RecordingHandler, SmtpServer
from tests.reliability.corpus import AS_OF, build
from tests.api.stack import read_side_env
from tests.reliability.test_hostile_corpus import _dead_letters
from tests.workers.harness import WorkerProcess, produce, records_by, wait_drained, wait_until
from tests.workers.test_pipeline import command, outcomes
from workers.names import ingest_topics

MARK = "zq" + uuid.uuid4().hex[:12]          # in every secret, and in nothing else


def _fernet_key_with(marker: str) -> str:
    """A valid Fernet key (32 bytes, urlsafe base64) whose text starts with the marker."""
    text = (marker + "A" * 43)[:43] + "="
    key = urlsafe_b64encode(urlsafe_b64decode(text)).decode()
    assert key.startswith(marker)
    return key


def make_secrets() -> dict[str, str]:
    return {"smtp_password": f"Smtp-{MARK}-pw!", "ops_root": f"root{MARK}tok", "ops_tenant": f"ten{MARK}tok",
            "ops_wrong": f"wrong{MARK}tok", "client_secret": f"cs-{MARK}-secret", "fernet": _fernet_key_with(MARK)}


class SwitchableAuthenticator(Authenticator):
    """Refuses every login while `refuse` is set (an SMTP auth failure), then checks the password."""
    refuse = True

    def __call__(self, server, session, envelope, mechanism, auth_data):
        result = super().__call__(server, session, envelope, mechanism, auth_data)
        return result if not self.refuse else type(result)(success=False, handled=False)


class Capture:
    """The test process's logs (the connector runs here) in both formats, through the product's handlers."""

    def __init__(self) -> None:
        self.json, self.text = io.StringIO(), io.StringIO()
        self.handlers = [make_handler("json", self.json), make_handler("text", self.text)]

    def __enter__(self):
        root = logging.getLogger()
        self.level = root.level
        root.setLevel(logging.DEBUG)
        for h in self.handlers:
            h.setLevel(logging.DEBUG)
            root.addHandler(h)
        return self

    def __exit__(self, *exc):
        root = logging.getLogger()
        for h in self.handlers:
            root.removeHandler(h)
        root.setLevel(self.level)


def _topic_bytes(bootstrap: str, name: str, own_topics: bool) -> dict[str, bytes]:
    """name -> every key, value and header of: all *.dlq topics, the billing topics, and (`own_topics`)
    the worker's internal topics and table changelogs."""
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
    wanted = [t for t in topics if t.endswith(".dlq") or t.startswith("billing.")
              or (own_topics and t.startswith(f"{name}-"))]
    assert any(t.endswith(".dlq") for t in wanted) and BILLING_SYNC in wanted
    out = {}
    for topic in wanted:
        chunks = []
        for m in read_to_end(bootstrap, topic):
            chunks += [m.key() or b"", m.value() or b""] + [v or b"" for _, v in (m.headers() or [])]
        out[f"topic {topic}"] = b"\n".join(chunks)
    return out


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {f"file {p.relative_to(root)}": p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def find_leaks(sinks: dict[str, bytes], values: dict[str, str]) -> list[tuple[str, str]]:
    needles = {name: v.encode() for name, v in values.items()} | {"marker": MARK.encode()}
    return [(sink, name) for sink, data in sinks.items() for name, n in needles.items() if n in data]


def check_sweep_can_fail(sinks: dict[str, bytes], values: dict[str, str]) -> None:
    """A secret planted in a copy of one sink is found: the sweep is not blind."""
    planted = dict(sinks)
    planted["planted"] = b"refresh failed with " + values["fernet"].encode()
    assert ("planted", "fernet") in find_leaks(planted, values)


def run_sweep(bootstrap: str, tmp_path: Path, name: str, monkeypatch, *, full: bool) -> None:
    values = make_secrets()
    minted: list[str] = []

    def token_urlsafe(n=32):
        minted.append(f"xo{MARK}{len(minted):04d}{_secrets.token_hex(6)}")
        return minted[-1]
    # The vendor's OAuth tokens (refresh and access) carry the marker too.
    monkeypatch.setattr(xero_module, "secrets", types.SimpleNamespace(token_urlsafe=token_urlsafe,
                                                                      token_hex=_secrets.token_hex))
    create_topics(bootstrap)
    tenant, ghost = f"{name}-sec", f"{name}-ghost"
    corpus = build(tenant, huge=False, ghost_tenant=ghost)
    produce(bootstrap, [(m.topic, m.key, m.value) for m in corpus.messages])
    data = tmp_path / "data"
    ops_tokens = {values["ops_root"]: "*", values["ops_tenant"]: tenant}
    auth = SwitchableAuthenticator("billing", values["smtp_password"])
    port = free_port()
    loglevel = "debug" if full else "info"

    def worker(fmt: str) -> WorkerProcess:
        env = {"BACKOFFICE_OPS_TOKENS": json.dumps(ops_tokens), "BACKOFFICE_SCHEDULER_INTERVAL": "3600",
               "BACKOFFICE_DOCUMENT_STORE": str(data / "docs"), "BACKOFFICE_SENT_LOG": str(data / "sent"),
               "BACKOFFICE_SMTP_PORT": str(smtp.port), "BACKOFFICE_SMTP_USERNAME": "billing",
               "BACKOFFICE_SMTP_PASSWORD": values["smtp_password"], "BACKOFFICE_SMTP_ATTEMPTS": "2",
               "BACKOFFICE_SMTP_BACKOFF_SECONDS": "0.05", "BACKOFFICE_TOKEN_KEY": values["fernet"],
               "BACKOFFICE_TOKEN_DIR": str(data / "tokens"),
               "BACKOFFICE_LOG_FORMAT": fmt, "BACKOFFICE_ORPHAN_GRACE_SECONDS": "3",
               "BACKOFFICE_PARKED_SWEEP_SECONDS": "1"}
        return WorkerProcess(bootstrap, name, data, worker_id=fmt, web_port=port, extra_env=env,
                             command=[sys.executable, "-m", "cli.main", "worker", "--loglevel", loglevel]).start()

    sinks: dict[str, bytes] = {}
    with Capture() as logs, XeroTestServer() as xero, \
            SmtpServer(RecordingHandler(), authenticator=auth, auth_require_tls=False) as smtp:
        setup = Setup("xero", xero, data, key=values["fernet"], client_secret=values["client_secret"],
                      limits={"server_error_attempts": 2, "backoff_initial": 0.01, "backoff_max": 0.05})
        setup.add(tenant, "org-sec")
        xero.inject("org-sec", "expire_tokens", 1)                    # a 401, then a refresh
        xero.inject("org-sec", "5xx", 1000, methods=("PUT", "POST"))  # past the retry budget: a dead letter
        w = worker("json")
        base = f"http://127.0.0.1:{port}"
        # the ops API (`backoffice api`) and the projector filling its read model, logging in JSON
        api_port = free_port()
        read_env = {**read_side_env(bootstrap, name, data, ops_tokens), "BACKOFFICE_API_PORT": str(api_port),
                    "BACKOFFICE_LOG_FORMAT": "json", "BACKOFFICE_LOG_LEVEL": loglevel.upper()}
        read_side = [WorkerProcess(bootstrap, name, data, worker_id=role, extra_env=read_env,
                                   command=[sys.executable, "-m", "cli.main", role]).start()
                     for role in ("projector", "api")]
        api_base = f"http://127.0.0.1:{api_port}"
        try:
            with Running(setup.runner(bootstrap, f"{name}-xero", attempts=3)):
                wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 120,
                           message=f"readyz; log:\n{w.log()[-2000:]}")
                want = {m.reason for m in corpus.bad()}
                wait_until(lambda: set(_dead_letters(bootstrap, {tenant, ghost})) >= want, 180, interval=1.0,
                           message="the corpus's dead letters")
                wait_drained(bootstrap, name, ingest_topics(name))
                gen = f"{tenant}-gen"
                produce(bootstrap, [command(tenant, gen, "GENERATE", as_of=AS_OF)])
                produce(bootstrap, [(BILLING_COMMANDS, tenant.encode(), encode("OperatorCommand", rec))
                                    for _, rec, _ in corpus.commands])        # refused, with reasons
                done = wait_until(lambda: outcomes(bootstrap, {gen}), 180, message=f"generate; {w.log()[-2000:]}")
                ids = done[gen]["invoice_ids"]
                assert done[gen]["ok"] and ids, done
                # the API: a wrong token (refused), the tenant's token, the operator's token
                # the read model catches up with the outcome (an unknown id is a 404 at the door)
                wait_until(lambda: all(httpx.get(f"{api_base}/api/v1/tenants/{tenant}/invoices/{i}", timeout=10, headers={
                    "Authorization": f"Bearer {values['ops_tenant']}"}).status_code == 200 for i in ids), 120,
                    message="the invoices readable through the API")
                answers = []
                for token, status in ((values["ops_wrong"], 401), (values["ops_tenant"], 200),
                                      (f"{values['ops_tenant']} {values['ops_root']}", 401)):
                    answers.append(httpx.get(f"{api_base}/api/v1/tenants/{tenant}/batches",
                                             headers={"Authorization": f"Bearer {token}"}, timeout=30))
                    assert answers[-1].status_code == status, (status, answers[-1].text)
                answers.append(httpx.post(f"{api_base}/api/v1/tenants/{tenant}/commands/record", json={"invoice_ids": ids},
                                          headers={"Authorization": f"Bearer {values['ops_root']}"}, timeout=30))
                assert answers[-1].status_code == 202, answers[-1].text
                sinks["ops API answers"] = b"\n".join(r.content + repr(r.headers).encode() for r in answers)
                # the SMTP server refuses the login: every send fails
                produce(bootstrap, [command(tenant, f"{tenant}-send-{i}", "SEND", invoice_id=i,
                                            recipients=["ap@example.com"]) for i in ids])
                wait_until(lambda: _events_for(bootstrap, ids, "SEND_FAILED") >= set(ids), 180,
                           message=f"failed sends; log:\n{w.log()[-2000:]}")
                wait_until(lambda: (s := _sync_of(bootstrap, tenant)) and set(s) >= set(ids) and s, 180,
                           message="a sync result for every invoice")
                assert set(_sync_of(bootstrap, tenant).values()) == {"FAILED"}
                with xero._lock:
                    xero.tenant("org-sec").faults.clear()                 # the vendor is back: a RESYNC books
                produce(bootstrap, [command(tenant, f"{tenant}-resync-{i}", "RESYNC", invoice_id=i) for i in ids])
                wait_until(lambda: set(_sync_of(bootstrap, tenant).values()) == {"SYNCED"}, 180,
                           message="resynced")
                if full:        # the rest of the mail path in text logs, after a restart
                    w.stop()
                    w = worker("text")
                    wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 120,
                               message=f"readyz; log:\n{w.log()[-2000:]}")
                assert auth.logins and not smtp.handler.received     # logins were tried, and refused
                auth.refuse = False
                produce(bootstrap, [command(tenant, f"{tenant}-resend-{i}", "SEND", invoice_id=i, resend=True,
                                            recipients=["ap@example.com"]) for i in ids])
                wait_until(lambda: _events_for(bootstrap, ids, "SENT") >= set(ids), 180,
                           message=f"sent; log:\n{w.log()[-2000:]}")
                assert len(smtp.handler.received) >= len(ids) and auth.logins
                sinks["metrics worker"] = httpx.get(f"{base}/metrics", timeout=10).content
                sinks["metrics ops API"] = httpx.get(f"{api_base}/metrics", timeout=10).content
        finally:
            w.stop()
            for p in read_side:
                p.stop()
        for role in ("projector", "api"):
            sinks[f"{role} log"] = (data / f"worker-{role}.log").read_bytes()
        sinks["metrics test process (connector)"] = generate_latest(REGISTRY)
        sinks["connector log json"] = logs.json.getvalue().encode()
        sinks["connector log text"] = logs.text.getvalue().encode()
        for n, r in enumerate(smtp.handler.received):
            sinks[f"email {n}"] = r.message.as_bytes()
            for k, part in enumerate(r.message.iter_attachments()):
                sinks[f"email {n} attachment {k} text"] = pdf_text(part.get_content()).encode()
    # the faults really happened, and the sinks were really fed
    assert 401 in {r["status"] for r in xero.api_requests("org-sec")} and len(minted) >= 3, minted
    assert sinks["connector log json"] and sinks["connector log text"]
    worker_logs = [(data / f"worker-{fmt}.log").read_bytes() for fmt in (("json", "text") if full else ("json",))]
    assert all(b"dead-lettered" in x for x in worker_logs[:1]) and all(worker_logs)
    pdfs = sorted((data / "docs").rglob("*.pdf"))
    assert pdfs and smtp.handler.received
    for p in pdfs:
        sinks[f"pdf text {p.name}"] = pdf_text(p.read_bytes()).encode()
    sinks |= _topic_bytes(bootstrap, name, own_topics=full) | _file_bytes(data)
    assert all(i.encode() in sinks[f"topic {connector_dead_letter_topic('xero')}"] for i in ids)
    refused = wait_until(lambda: (o := outcomes(bootstrap, {cid for cid, _, _ in corpus.commands}))
                         and len(o) == len(corpus.commands) and o, 60, message="the corpus's commands answered")
    assert not any(o["ok"] for o in refused.values()), refused
    token_files = [k for k in sinks if k.startswith("file tokens/") and k.endswith(SUFFIX)]
    assert token_files, sorted(sinks)
    assert all((data / k.removeprefix("file ")).stat().st_mode & 0o077 == 0 for k in token_files)   # private
    check_sweep_can_fail(sinks, values)
    secrets_to_find = values | {f"vendor token {i}": t for i, t in enumerate(minted)}
    leaks = find_leaks(sinks, secrets_to_find)
    assert not leaks, leaks


def _events_for(bootstrap: str, ids, event_type: str) -> set[str]:
    found = records_by(bootstrap, BILLING_INVOICES, "invoice_id", set(ids))
    return {i for i, recs in found.items() if any(r["event_type"] == event_type for r in recs)}


def _sync_of(bootstrap: str, tenant: str) -> dict[str, str]:
    return {r["invoice_id"]: r["status"] for r in records_by(bootstrap, BILLING_SYNC, "tenant_id", {tenant})
            .get(tenant, [])}


@pytest.mark.integration
@pytest.mark.slow
def test_no_secret_reaches_a_sink(kafka_bootstrap, tmp_path, unique_name, monkeypatch):
    run_sweep(kafka_bootstrap, tmp_path, unique_name, monkeypatch, full=False)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.reliability
def test_no_secret_reaches_a_sink_debug_logs_text_and_json(kafka_bootstrap, tmp_path, unique_name, monkeypatch):
    run_sweep(kafka_bootstrap, tmp_path, unique_name, monkeypatch, full=True)
