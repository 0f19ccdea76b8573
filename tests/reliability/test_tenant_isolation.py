"""Issue 12, item 5: two tenants with IDENTICAL account, placement, timesheet and fee ids (and
event ids: both come from one simulator seed, the second with one more placement) through one
real worker on the embedded broker, with a real SMTP server and the ops API.

The oracle is the input: each tenant's expected pay lines (the simulator's, computed without
`backoffice/`), its own marker written into every name it sends (account names, candidate
names, AP e-mail domains), and its own tenant id. No output of one tenant (pay line, invoice
number, billing.invoices record, stored PDF, e-mail, /metrics, ops API answer) may carry the
other's marker or id; numbers are gapless per tenant from 1; totals equal each tenant's own
input; each tenant's token gets 404 for the other's ids and 403 on the other's path.
"""
from __future__ import annotations

import datetime as dt
import email.policy
import json
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from infra.admin import create_topics
from infra.readback import read_to_end
from api.models import COMMAND_BODIES
from schemas.codec import decode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, BILLING_INVOICES
from simulator.generate import generate
from simulator.publish import publish
from tests.documents.pdfs import pdf_text
from tests.documents.smtp import RecordingHandler, SmtpServer
from tests.api.stack import start_stack
from tests.api.test_live import api_worker_env
from tests.workers.harness import wait_drained, wait_until, produce
from tests.workers.oracle import assert_gapless, assert_invoiced_exactly_once, due_by
from tests.workers.test_pipeline import command, outcomes
from workers.names import ingest_topics

START, AS_OF = dt.date(2026, 9, 7), dt.date(2026, 10, 12)
CLOCK = "2026-10-12T12:00:00+00:00"


def tenant_stream(tenant: str, marker: str, placements: int, weeks: int):
    """The simulator's single tenant ("tenant-01") renamed to `tenant`; every id kept as it is
    (placement ids still read tenant-01-plNNNN), every name it sends marked. All accounts are
    AUTOMATIC so every invoice is e-mailed, to a contact at <marker>.example.com."""
    stream = generate(tenants=1, placements=placements, weeks=weeks, seed=12, start=START)

    def retag(ev):
        key = tenant.encode() + ev.key[len(b"tenant-01"):]
        if ev.record is None:
            return replace(ev, key=key)
        rec = dict(ev.record, tenant_id=tenant)
        if ev.topic == ATS_ACCOUNTS:
            rec["invoicing_mode"] = "AUTOMATIC"
            if rec["account_name"]:
                rec["account_name"] = f"{marker} {rec['account_name']}"
        if ev.topic == ATS_PLACEMENTS:
            rec["candidate_name"] = f"{marker} {rec['candidate_name']}"
        for field in ("ap_contact", "ap_contact_override"):     # an account's, or a placement's own
            if rec.get(field):
                local = rec[field]["email"].split("@")[0]
                rec[field] = dict(rec[field], email=f"{local}@{marker.lower()}.example.com")
        return replace(ev, key=key, record=rec)

    stream.events = [retag(e) for e in stream.events]
    stream.expected_pay_lines = [dict(x, tenant_id=tenant) for x in stream.expected_pay_lines]
    return stream


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _invoice_events(bootstrap: str, tenants: set[str]) -> list[dict]:
    return [r for m in read_to_end(bootstrap, BILLING_INVOICES)
            if (r := decode(m.value()).record)["invoice_id"].split(":")[0] in tenants or r["tenant_id"] in tenants]


def _leaks(text: str, other: str, other_marker: str) -> list[str]:
    return [s for s in (other, other_marker, other_marker.lower()) if s in text]


def run_isolation(bootstrap: str, tmp_path: Path, name: str, *, placements: int, weeks: int) -> None:
    create_topics(bootstrap)
    a, b = f"{name}-alfa", f"{name}-bravo"
    # markers unique to this run: other tests' workers on the session broker read billing.invoices too
    marker = {a: f"ALFAMARK{name}", b: f"BRAVOMARK{name}"}
    streams = {a: tenant_stream(a, marker[a], placements, weeks), b: tenant_stream(b, marker[b], placements + 1, weeks)}
    other = {a: b, b: a}
    expected = {t: due_by(s.expected_pay_lines, AS_OF) for t, s in streams.items()}
    # The premise: the ids really are the same, only the tenant differs.
    bare = {t: {k.split(":", 1)[1] for k in e} for t, e in expected.items()}
    assert bare[a] and bare[a] < bare[b], "tenant b must hold every one of a's pay-line ids, and more"
    keys = {t: {e.key.split(b":", 1)[1] for e in s.events} for t, s in streams.items()}
    assert keys[a] <= keys[b]
    for s in streams.values():
        publish(s, bootstrap)

    tokens = {"a-token": a, "b-token": b, "root-token": "*"}
    token_of = {a: "a-token", b: "b-token"}
    with SmtpServer(RecordingHandler()) as smtp:
        env = {**api_worker_env(tmp_path), "BACKOFFICE_CLOCK": CLOCK, "BACKOFFICE_SMTP_PORT": str(smtp.port),
               "BACKOFFICE_SMTP_ATTEMPTS": "3", "BACKOFFICE_SMTP_BACKOFF_SECONDS": "0.05",
               "BACKOFFICE_ORPHAN_GRACE_SECONDS": "0", "BACKOFFICE_OPS_TOKENS": json.dumps(tokens)}
        # the worker, the projector and the ops API (`backoffice api`, answering from the read model)
        stack = start_stack(bootstrap, name, tmp_path, tokens, env, web_ports=True)
        base, worker_base = stack.base, f"http://127.0.0.1:{stack.workers[0].web_port}"
        try:
            wait_drained(bootstrap, name, ingest_topics(name))
            gen = {t: f"{t}-gen" for t in (a, b)}
            produce(bootstrap, [command(t, cid, "GENERATE", as_of=AS_OF) for t, cid in gen.items()])
            done = wait_until(lambda: (o := outcomes(bootstrap, set(gen.values()))) and len(o) == 2 and o, 180,
                              message=f"generate outcomes; logs:\n{stack.logs()}")
            assert all(o["ok"] for o in done.values()), done
            invoice_ids = {t: set(done[gen[t]]["invoice_ids"]) for t in (a, b)}
            every = invoice_ids[a] | invoice_ids[b]

            def all_sent():
                sent = {r["invoice_id"] for r in _invoice_events(bootstrap, {a, b}) if r["event_type"] == "SENT"}
                return sent >= every and len(smtp.handler.received) >= len(every)
            wait_until(all_sent, 240, interval=1.0, message=f"every invoice e-mailed; logs:\n{stack.logs()}")

            def projected():
                return all(len(httpx.get(f"{base}/api/v1/tenants/{t}/invoices?status=SENT", headers=_auth(token_of[t]),
                                         timeout=30).json()["items"]) == len(invoice_ids[t]) for t in (a, b))
            wait_until(projected, 120, interval=1.0, message=f"the read model to show them sent\n{stack.logs()}")
            api = _api_checks(base, a, b, token_of, invoice_ids, expected, marker)
            metrics = httpx.get(f"{worker_base}/metrics", timeout=10).text + httpx.get(f"{base}/metrics", timeout=10).text
        finally:
            stack.stop()
        received = list(smtp.handler.received)

    events = _invoice_events(bootstrap, {a, b})
    generated = {r["invoice_id"]: r for r in events if r["event_type"] == "GENERATED"}
    assert set(generated) == every and not invoice_ids[a] & invoice_ids[b]
    for t in (a, b):
        mine = [r for r in generated.values() if r["tenant_id"] == t]
        assert {r["invoice_id"] for r in mine} == invoice_ids[t]
        # lines: exactly the tenant's own expected lines, each once, at its own amount
        assert_invoiced_exactly_once([(x["pay_line_id"], x["amount"]) for r in mine for x in r["lines"]], expected[t])
        # totals from the tenant's own input
        assert sum(r["subtotal"] for r in mine) == sum(expected[t].values()), t
        assert api[t]["batches_total"] == sum(expected[t].values()), (t, api[t]["batches_total"])
    assert_gapless({t: [int(r["number"]) for r in generated.values() if r["tenant_id"] == t] for t in (a, b)}, (a, b))
    # every record on billing.invoices: its tenant, its ids, its names only
    for r in events:
        t = r["tenant_id"]
        assert r["invoice_id"] in invoice_ids[t], r["invoice_id"]
        assert all(x["pay_line_id"].startswith(f"{t}:") for x in r["lines"])
        assert not _leaks(repr(r), other[t], marker[other[t]]), (t, r["invoice_id"])
        assert marker[t] in repr(r)                     # the check can see a marker where one belongs
        for uri in r["document_uris"] or []:
            assert f"/{t}/" in uri and f"/{other[t]}/" not in uri, uri
    _document_checks(tmp_path / "docs", a, b, other, marker, generated)
    _email_checks(received, generated, streams, other, marker)
    for s in (a, b, *marker.values(), *(m.lower() for m in marker.values()), "tenant-01"):
        assert s not in metrics, f"/metrics shows {s!r}"


def _document_checks(store: Path, a, b, other, marker, generated) -> None:
    """The store may also hold other tests' tenants: billing.invoices is shared by every app on the
    session broker, and a worker renders what it reads there."""
    pdfs = sorted(store.rglob("*.pdf"))
    assert pdfs
    for t in (a, b):
        mine = [p for p in pdfs if p.relative_to(store).parts[0] == t]
        assert {p.parent.name for p in mine} == {i for i, r in generated.items() if r["tenant_id"] == t}
        for p in mine:
            raw = p.read_bytes()
            text = pdf_text(raw)
            assert marker[t] in text, p                         # the account name is printed
            assert not _leaks(text, other[t], marker[other[t]]), p
            assert other[t].encode() not in raw and marker[other[t]].encode() not in raw, p


def _email_checks(received, generated, streams, other, marker) -> None:
    contacts = {t: {e.record[f]["email"] for e in s.events for f in ("ap_contact", "ap_contact_override")
                    if e.record and e.record.get(f)} for t, s in streams.items()}
    per_invoice: dict[str, int] = {}
    for r in received:
        msg = r.message
        named = [i for i in generated if i in msg["Message-ID"]]
        if not named:       # another test's invoice on the shared broker (see _document_checks): not to us
            assert not any(m.lower() in rcpt for m in marker.values() for rcpt in r.rcpt_tos), r.rcpt_tos
            continue
        assert len(named) == 1, msg["Message-ID"]
        inv = generated[named[0]]
        t = inv["tenant_id"]
        per_invoice[named[0]] = per_invoice.get(named[0], 0) + 1
        assert set(r.rcpt_tos) <= contacts[t], (t, r.rcpt_tos)        # the tenant's own AP contacts
        body = msg.as_bytes(policy=email.policy.default.clone(linesep="\n")).decode(errors="replace")
        assert not _leaks(body, other[t], marker[other[t]]), named
        texts = [pdf_text(part.get_content()) for part in msg.iter_attachments()]
        assert texts and all(marker[t] in x and not _leaks(x, other[t], marker[other[t]]) for x in texts), named
        # the invoice PDF among them shows this invoice's own total
        total = re.compile(rf"\b{re.escape(str(inv['total']))}\b")
        assert any(total.search(x.replace(",", "")) for x in texts), (named, inv["total"])
    assert per_invoice == {i: 1 for i in generated}, per_invoice


def _api_checks(base, a, b, token_of, invoice_ids, expected, marker) -> dict:
    """Every tenant-scoped endpoint with each tenant's token: its own data only, the other's ids
    404, the other's path 403."""
    found = {}
    batch_of: dict[str, list[str]] = {}
    for t, o in ((a, b), (b, a)):
        h = _auth(token_of[t])
        listing = httpx.get(f"{base}/api/v1/tenants/{t}/batches", headers=h, timeout=30)
        assert listing.status_code == 200
        batch_of[t] = [x["batch_id"] for x in listing.json()["batches"]]
        found[t] = {"batches_total": sum(Decimal(x["amount_timesheets"]) + Decimal(x["amount_products_services"])
                                         for x in listing.json()["batches"]), "texts": [listing.text]}
        for bid in batch_of[t]:
            r = httpx.get(f"{base}/api/v1/tenants/{t}/batches/{bid}/invoices", headers=h, timeout=30)
            assert r.status_code == 200 and {x["invoice_id"] for x in r.json()["invoices"]} <= invoice_ids[t]
            found[t]["texts"].append(r.text)
        for iid in invoice_ids[t]:
            r = httpx.get(f"{base}/api/v1/tenants/{t}/invoices/{iid}", headers=h, timeout=30)
            assert r.status_code == 200, r.text
            detail = r.json()
            assert detail["tenant_id"] == t and {x["pay_line_id"] for x in detail["lines"]} <= set(expected[t])
            found[t]["texts"].append(r.text)
        for path in ("health", "windows"):
            r = httpx.get(f"{base}/api/v1/tenants/{t}/{path}", headers=h, timeout=30)
            assert r.status_code == 200, (path, r.text)
            found[t]["texts"].append(r.text)
        for text in found[t]["texts"]:
            assert not _leaks(text, o, marker[o]), (t, text[:500])
    assert marker[a] in "".join(found[a]["texts"]) and marker[b] in "".join(found[b]["texts"])
    for t, o in ((a, b), (b, a)):
        h = _auth(token_of[t])
        for iid in invoice_ids[o]:
            # the same bare id exists for both tenants; on t's path it must be t's or nothing
            assert httpx.get(f"{base}/api/v1/tenants/{t}/invoices/{iid}", headers=h).status_code == 404
            for name, body in (("send", {"invoice_ids": [iid]}), ("record", {"invoice_ids": [iid]}),
                               ("resync", {"invoice_id": iid})):
                r = httpx.post(f"{base}/api/v1/tenants/{t}/commands/{name}", json=body, headers=h, timeout=30)
                assert r.status_code == 404, (name, r.status_code, r.text)
        for bid in batch_of[o]:
            assert httpx.get(f"{base}/api/v1/tenants/{t}/batches/{bid}/invoices", headers=h).status_code == 404
            r = httpx.post(f"{base}/api/v1/tenants/{t}/commands/resync", json={"batch_id": bid}, headers=h, timeout=30)
            assert r.status_code == 404, r.text
        line = sorted(expected[o])[0]
        for name in ("snooze", "unsnooze"):
            r = httpx.post(f"{base}/api/v1/tenants/{t}/commands/{name}", json={"pay_line_id": line}, headers=h,
                           timeout=30)
            assert r.status_code == 404, (name, r.text)
        for path in ("batches", "health", "windows", f"invoices/{sorted(invoice_ids[o])[0]}",
                     f"batches/{batch_of[o][0]}/invoices"):
            assert httpx.get(f"{base}/api/v1/tenants/{o}/{path}", headers=h).status_code == 403, path
        for name in COMMAND_BODIES:          # every command on the other's path: refused at the gate
            r = httpx.post(f"{base}/api/v1/tenants/{o}/commands/{name}", json={}, headers=h, timeout=30)
            assert r.status_code == 403, (name, r.status_code)
    return found


@pytest.mark.integration
@pytest.mark.slow
def test_two_tenants_with_the_same_ids_see_only_their_own(kafka_bootstrap, tmp_path, unique_name):
    run_isolation(kafka_bootstrap, tmp_path, unique_name, placements=3, weeks=2)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.reliability
def test_two_tenants_with_the_same_ids_see_only_their_own_full(kafka_bootstrap, tmp_path, unique_name):
    run_isolation(kafka_bootstrap, tmp_path, unique_name, placements=12, weeks=5)
