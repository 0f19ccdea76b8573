"""A clerk's day in a real browser (Debian's chromium through Selenium) against the console
process on a real worker, projector, broker and SMTP server: health check findings, Generate,
Record with a chosen template, Email & Send (the message arrives with both PDFs), Record &
Present from the list, Void, Create Credit Memo, Snooze, Invoice Setup; and another agency's
user refused by URL. Each answer is checked against the topics, the document store or the SMTP
server, not against the console."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import sys
from decimal import Decimal

import httpx
import pytest
from selenium.webdriver.common.by import By

from documents.store import LocalDocumentStore
from infra.admin import create_topics
from infra.broker import free_port
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.console.browser import ROOT, Screens, chromium_paths, start_chrome
from tests.documents.pdfs import pdf_text
from tests.documents.smtp import RecordingHandler, SmtpServer
from tests.readmodel.test_reads_cli import newest_lines, topic_invoices
from tests.workers.harness import WorkerProcess, produce, wait_drained, wait_until, wait_while_moving
from tests.workers.test_pipeline import outcomes
from workers.names import ingest_topics

pytestmark = [pytest.mark.integration, pytest.mark.browser]
WEEK1, WEEK2 = dt.date(2026, 9, 6), dt.date(2026, 9, 13)
CLOCK, AS_OF = "2026-09-16T12:00:00+00:00", "2026-09-16"
COMPACT = "Compact layout picked by the clerk"
PASSWORD = "clerk password 42"


def _templates(tmp) -> str:
    """The shipped templates plus a second invoice template, so the picklist has a real choice."""
    folder = tmp / "templates"
    shutil.copytree(ROOT / "templates", folder)
    shutil.copytree(folder / "standard_invoice", folder / "compact_invoice")
    manifest = folder / "compact_invoice" / "manifest.yaml"
    text = manifest.read_text().replace("name: standard_invoice", "name: compact_invoice")
    manifest.write_text(text.replace('message: "Thank you for your business.', f'message: "{COMPACT}.'))
    return str(folder)


def _ats(a: str, b: str) -> tuple[list, list]:
    """The ATS events, and p2's cancellation: sent once p2's timesheet has made its pay lines (the
    worker reads the topics side by side; a timesheet it met after the cancellation would be
    dead-lettered as for a cancelled placement, and the health check would have nothing to say)."""
    def rec(topic, key, schema, record):
        return topic, key.encode(), encode(schema, record)
    cancelled = {**placement_record(a, "p2", "acme", option="PLACEMENT", version=2), "status": "CANCELLED",
                 "event_id": f"{a}-p2-cancelled"}
    return [rec(ATS_ACCOUNTS, f"{a}:acme", "AccountUpserted", account_record(a, "acme", "Acme Staffing Client")),
            rec(ATS_PLACEMENTS, f"{a}:p1", "PlacementUpserted", placement_record(a, "p1", "acme", option="PLACEMENT")),
            rec(ATS_PLACEMENTS, f"{a}:p2", "PlacementUpserted", placement_record(a, "p2", "acme", option="PLACEMENT")),
            rec(ATS_TIMESHEETS, f"{a}:p1", "TimesheetApproved", timesheet_record(a, "p1", WEEK1)),
            rec(ATS_TIMESHEETS, f"{a}:p1", "TimesheetApproved", timesheet_record(a, "p1", WEEK2)),
            rec(ATS_TIMESHEETS, f"{a}:p2", "TimesheetApproved", timesheet_record(a, "p2", WEEK1)),
            rec(ATS_ACCOUNTS, f"{b}:globex", "AccountUpserted", account_record(b, "globex", "Globex Other Agency")),
            rec(ATS_PLACEMENTS, f"{b}:q1", "PlacementUpserted", placement_record(b, "q1", "globex")),
            rec(ATS_TIMESHEETS, f"{b}:q1", "TimesheetApproved", timesheet_record(b, "q1", WEEK1))], \
        [rec(ATS_PLACEMENTS, f"{a}:p2", "PlacementUpserted", cancelled)]


@pytest.fixture(scope="module")
def stack(kafka_bootstrap, tmp_path_factory):
    browser, driver = chromium_paths()
    create_topics(kafka_bootstrap)
    a, b, app = f"cona{free_port()}", f"conb{free_port()}", f"conapp{free_port()}"   # the app id names no tenant
    tmp = tmp_path_factory.mktemp("console")
    tokens = {"tok-a-" + "1" * 24: a, "tok-b-" + "2" * 24: b, "tok-root-" + "3" * 24: "*"}
    events, cancellation = _ats(a, b)
    produce(kafka_bootstrap, events)
    web, console_port = free_port(), free_port()
    with SmtpServer(RecordingHandler()) as smtp:
        shared = {"BACKOFFICE_DOCUMENT_STORE": str(tmp / "docs"), "BACKOFFICE_TEMPLATE_DIR": _templates(tmp),
                  "BACKOFFICE_OPS_TOKENS": json.dumps(tokens), "BACKOFFICE_DATABASE_URL": f"sqlite:///{tmp / 'rm.sqlite3'}",
                  "BACKOFFICE_PROJECTOR_GROUP": f"{app}-projector"}
        worker = WorkerProcess(kafka_bootstrap, app, tmp, web_port=web, extra_env={
            **shared, "BACKOFFICE_SCHEDULER_INTERVAL": "3600", "BACKOFFICE_SENT_LOG": str(tmp / "sent"),
            "BACKOFFICE_SMTP_PORT": str(smtp.port), "BACKOFFICE_SMTP_ATTEMPTS": "1", "BACKOFFICE_CLOCK": CLOCK,
            "BACKOFFICE_ORPHAN_GRACE_SECONDS": "0"}).start()
        projector = WorkerProcess(kafka_bootstrap, app, tmp, worker_id="projector", extra_env=shared,
                                  command=[sys.executable, "-m", "cli.main", "projector"]).start()
        console = WorkerProcess(kafka_bootstrap, app, tmp, worker_id="console", extra_env={
            **shared, "BACKOFFICE_OPS_API_URL": f"http://127.0.0.1:{web}", "BACKOFFICE_CONSOLE_SECRET_KEY": "s" * 40,
            "BACKOFFICE_CONSOLE_DATABASE_URL": f"sqlite:///{tmp / 'console.sqlite3'}",
            "BACKOFFICE_CONSOLE_COMMAND_TIMEOUT": "120"},
            command=[sys.executable, "-m", "cli.main", "console", "--port", str(console_port)]).start()
        chrome = None
        try:
            base = f"http://127.0.0.1:{console_port}"
            wait_until(lambda: httpx.get(f"http://127.0.0.1:{web}/readyz", timeout=2).status_code == 200, 120,
                       message="worker readyz")
            wait_drained(kafka_bootstrap, app, ingest_topics(app))
            # the session's broker holds earlier tests' tenants too: the projector reads them all first
            wait_while_moving(lambda: {t: n for t, n in _projected_lines(tmp / "rm.sqlite3").items() if t in (a, b)}
                              == {a: 6, b: 2}, lambda: _projected_positions(tmp / "rm.sqlite3", f"{app}-projector"),
                              idle=120, cap=600, message=f"the projector to hold the pay lines; log:\n"
                                                         f"{projector.log()[-2000:]}")
            produce(kafka_bootstrap, cancellation)
            wait_drained(kafka_bootstrap, app, ingest_topics(app))
            wait_until(lambda: httpx.get(f"{base}/login", timeout=2).status_code == 200, 60,
                       message=f"the console; log:\n{console.log()[-2000:]}")
            chrome = start_chrome(browser, driver)
            yield dataclasses.make_dataclass("Stack", ["a", "b", "tokens", "base", "smtp", "store", "chrome",
                                                       "screens", "bootstrap", "procs"])(
                a, b, tokens, base, smtp, LocalDocumentStore(tmp / "docs"), chrome, Screens(chrome), kafka_bootstrap,
                (worker, projector, console))
        finally:
            if chrome is not None:
                chrome.quit()
            for proc in (console, projector, worker):
                proc.stop()


def _projected_positions(path, group: str) -> int:
    """How far the projector has read, in all: it grows while it works through the topics."""
    import sqlalchemy as sa

    from readmodel.queries import positions
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        return sum(positions(engine, group).values())
    finally:
        engine.dispose()


def _projected_lines(path) -> dict:
    import sqlalchemy as sa

    from readmodel import models as m
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as c:
            p = m.pay_lines.c
            return dict(c.execute(sa.select(p.tenant_id, sa.func.count()).group_by(p.tenant_id)).all())
    finally:
        engine.dispose()


# -- the browser's hands -----------------------------------------------------------------------
def go(s, path):
    s.chrome.get(s.base + path)


def el(s, css):
    """The element, or a failure that shows the page it was missing from (and the processes' logs)."""
    from selenium.common.exceptions import NoSuchElementException
    try:
        return s.chrome.find_element(By.CSS_SELECTOR, css)
    except NoSuchElementException:
        raise AssertionError(f"no {css} on {s.chrome.current_url}:\n{text(s)}\n{logs(s)}") from None


def fill(s, css, value):
    field = el(s, css)
    field.clear()
    field.send_keys(value)


def click(s, css, navigates=True):
    """Click; for a link or a submit, wait until the next page has replaced this one (an action
    waits for its outcome and the read model: up to the console's command timeout)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def replaced(chrome) -> bool:
        try:
            return chrome.execute_script("return window.__old_page === undefined && document.readyState == 'complete'")
        except WebDriverException:      # between documents
            return False

    s.chrome.execute_script("window.__old_page = true")
    el(s, css).click()
    if navigates:
        WebDriverWait(s.chrome, 180).until(replaced)


def text(s) -> str:
    return s.chrome.find_element(By.TAG_NAME, "body").text


def login(s, tenant=None, user=None, token=None):
    go(s, "/login")
    if token:
        click(s, "details summary", navigates=False)
        fill(s, "#token", token)
        click(s, "#token-login")
    else:
        fill(s, "#tenant", tenant)
        fill(s, "#username", user)
        fill(s, "#password", PASSWORD)
        click(s, "#login")


def logout(s):
    click(s, ".logout button")


def outcome(s) -> str:
    body = text(s)
    assert "Outcome" in body, body
    return s.chrome.find_element(By.CSS_SELECTOR, ".outcome").text


def logs(s) -> str:
    return "\n".join(f"--- {p.worker_id}:\n{p.log()[-1500:]}" for p in s.procs)


# -- the day -----------------------------------------------------------------------------------
def test_a_clerks_day_in_the_browser(stack):
    s = stack
    token_a = next(t for t, v in s.tokens.items() if v == s.a)
    # the agency's first admin logs in with its ops token and adds a clerk
    login(s, token=token_a)
    fill(s, "#new-username", "clara")
    fill(s, "#new-password", PASSWORD)
    click(s, "#add-user")
    assert "User clara can now log in." in text(s)
    s.screens.shot("users")
    logout(s)

    login(s, s.a, "clara")
    assert "List Batches" in s.chrome.title
    pending = el(s, "#pending").text     # no invoice names the account yet: its id
    assert "acme 6 " in pending, pending
    assert el(s, "#first_number").get_attribute("value") == "1"
    s.screens.shot("list-batches")
    click(s, "#run-health-check")                       # nothing has run a check yet
    assert "No health check has run yet" in el(s, "#health-when").text
    go(s, "/batches")

    s.chrome.execute_script(f"document.getElementById('as_of').value = '{AS_OF}'")
    click(s, "#generate-invoices")
    said = outcome(s)
    assert "Generate Invoices: done" in said, said + logs(s)
    s.screens.shot("generated")
    generated = topic_invoices(s.bootstrap, s.a)
    assert len(generated) == 2 and {r["number"] for r in generated.values()} == {"1", "2"}, generated
    by_placement = {r["lines"][0]["placement_id"]: r for r in generated.values()}
    p1, p2 = by_placement["p1"], by_placement["p2"]

    # the findings of the check Generate ran (warnings only: it went ahead), each with its record to fix
    go(s, "/batches")
    click(s, "#run-health-check")
    findings = el(s, "#findings").text
    assert "placement p2 is cancelled but still has pending pay lines" in findings and "WARNING" in findings, logs(s)
    s.screens.shot("health-check")
    click(s, "#findings a")                             # the record to fix: placement p2's line items
    shown = el(s, "#line-items").text
    assert shown.count("acme p2 TEMP") == 2 and "p1" not in shown, shown

    go(s, "/invoices?status=NEW")
    listed = el(s, "#invoices").text
    assert p1["number"] in listed and p2["number"] in listed and "Globex" not in listed
    total = f"${Decimal(p1['total']):,.2f}"
    assert total in listed
    s.screens.shot("invoices")
    go(s, "/batches")
    assert el(s, "#first_number").get_attribute("value") == "3"   # last + 1

    # Record & Present with the compact template: the stored PDF is that template's
    go(s, f"/invoices/{p1['number']}")
    options = [o.text for o in s.chrome.find_elements(By.CSS_SELECTOR, "#template option")]
    assert "compact_invoice" in options and "standard_credit_memo" not in options
    s.screens.shot("invoice-detail")
    s.chrome.find_element(By.CSS_SELECTOR, "#template option[value='']")  # the default is offered too
    for o in s.chrome.find_elements(By.CSS_SELECTOR, "#template option"):
        if o.text == "compact_invoice":
            o.click()
    click(s, "#record-button")
    assert f"Record & Present {p1['number']}: done" in outcome(s), logs(s)
    stored = {d.kind: d for d in s.store.list(s.a, p1["invoice_id"])}
    assert {"invoice", "timesheet_report"} <= set(stored)
    assert COMPACT in pdf_text(s.store.get(stored["invoice"].uri))
    click(s, "#back")
    assert el(s, "#status").text == "Recorded"
    s.screens.shot("recorded")

    # Email & Send: the AP contact and one more recipient get both PDFs
    fill(s, "#recipients", "controller@example.com")
    click(s, "#send-button")
    assert f"Email & Send {p1['number']}: done" in outcome(s), logs(s)
    mail = wait_until(lambda: [m for m in s.smtp.handler.received if "controller@example.com" in m.rcpt_tos], 30,
                      message="the e-mail")[0]
    assert "ap-acme@example.com" in mail.rcpt_tos
    pdfs = [p for p in mail.message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 2 and any(COMPACT in pdf_text(p.get_content()) for p in pdfs)
    assert topic_invoices(s.bootstrap, s.a)[p1["invoice_id"]]["status"] == "SENT"
    go(s, f"/invoices/{p1['number']}")
    assert el(s, "#status").text == "Sent"
    history = el(s, "#history").text
    assert "Generated" in history and "Recorded" in history and "Sent" in history

    # Record & Present the other invoice from the list (select several → Record & Present)
    go(s, "/invoices?status=NEW")
    click(s, f"#pick-{p2['number']}", navigates=False)
    click(s, "#bulk-record")
    assert f"Record & Present {p2['number']}: done" in outcome(s), logs(s)
    assert topic_invoices(s.bootstrap, s.a)[p2["invoice_id"]]["status"] == "RECORDED"

    # Void the other invoice, with the confirmation
    go(s, f"/invoices/{p2['number']}")
    click(s, "#void-confirm", navigates=False)
    click(s, "#void-button")
    assert f"Void {p2['number']}: done" in outcome(s), logs(s)
    assert topic_invoices(s.bootstrap, s.a)[p2["invoice_id"]]["status"] == "VOID"
    s.screens.shot("voided")

    # Create Credit Memo from a line of the sent invoice: original prefilled, what is left shown
    go(s, f"/invoices/{p1['number']}")
    click(s, "#lines a[href^='/credit-memo']")
    first = p1["lines"][0]
    assert "Left to credit" in text(s), text(s)
    assert el(s, "#remaining").text == f"${Decimal(first['amount']):,.2f}"
    fill(s, "#amount", "50.00")
    fill(s, "#reason", "Timesheet correction")
    s.screens.shot("credit-memo")
    click(s, "#save-credit")
    assert "Create Credit Memo: done" in outcome(s), logs(s)
    credits = [r for r in newest_lines(s.bootstrap, s.a).values() if r.get("credited_line_id") == first["pay_line_id"]]
    assert len(credits) == 1 and abs(Decimal(credits[0]["amount"])) == Decimal("50.00"), credits

    # the voided invoice's lines are Pending again: snooze one
    go(s, "/lines?status=PENDING")
    s.chrome.find_elements(By.CSS_SELECTOR, "#line-items input[type=checkbox]")[0].click()
    fill(s, "#reason", "client disputes the hours")
    click(s, "#snooze")
    assert "done" in outcome(s), logs(s)
    assert "SNOOZED" in {r["status"] for r in newest_lines(s.bootstrap, s.a).values()}
    go(s, "/lines")
    s.screens.shot("line-items")
    logout(s)

    # Invoice Setup, as the admin: preview, then save
    login(s, token=token_a)
    go(s, "/setup")
    fill(s, "#time_zone", "America/New_York")
    s.chrome.find_element(By.CSS_SELECTOR, "#week_ending_day option[value=SATURDAY]").click()
    fill(s, "#invoice_delay_days", "1")
    fill(s, "#preferred_start_time", "09:30")
    click(s, "#preview")
    runs = el(s, "#runs").text
    assert "Sunday" in runs and "09:30 E" in runs, runs       # a Saturday week end + 1 day, New York time
    click(s, "#save-setup")
    assert "Invoice Setup: done" in s.chrome.find_element(By.CSS_SELECTOR, ".outcome").text, logs(s)
    setups = [o for o in outcomes(s.bootstrap, {o for o in _outcome_ids(s.bootstrap, s.a)}).values()
              if o["command"] == "SET_INVOICE_SETUP"]
    assert setups and setups[-1]["ok"], setups
    s.screens.shot("invoice-setup")
    go(s, "/operations")
    assert el(s, "#lag").text
    s.screens.shot("operations")
    logout(s)

    # another agency's admin: nothing of agency A by any URL
    login(s, token=next(t for t, v in s.tokens.items() if v == s.b))
    for path in (f"/invoices/{p1['number']}", f"/invoices/{p1['number']}/pdf", f"/invoices/{p2['number']}",
                 f"/credit-memo?line={first['pay_line_id']}", "/invoices", "/lines", "/batches", "/operations"):
        go(s, path)
        body = text(s)
        assert "Acme Staffing Client" not in body and s.a not in body and "Timesheet correction" not in body, path
    go(s, f"/invoices/{p1['number']}")
    assert "Your agency has no invoice numbered" in text(s)
    s.screens.shot("other-agency-refused")


def _outcome_ids(bootstrap, tenant) -> set[str]:
    from infra.readback import read_to_end
    from schemas.codec import decode
    from schemas.topics import BILLING_OUTCOMES

    return {r["command_id"] for m in read_to_end(bootstrap, BILLING_OUTCOMES)
            if (r := decode(m.value()).record)["tenant_id"] == tenant}
