"""Every route of the console, enumerated from the app: anonymous users are sent to log in, and a
user of agency B reaches nothing of agency A by any URL, query or form field (403/404, or a page
without A's data, and no command naming A's records). A new route without the door fails here.
The same requests made by A's own user reach A's data, so the refusals are not an accident of
wrong parameters."""
from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from console.app import PUBLIC, create_app
from tests.console.seed import PASSWORD, Recorder, console_settings, seed_read_model, tenant_rows

A = tenant_rows("agency-a", "1001", "Alpha Widgets Inc", "plc-alpha-7")
B = tenant_rows("agency-b", "2001", "Bravo Freight LLC", "plc-bravo-3")
TOKEN_A, TOKEN_ALL = "tok-a-" + "x" * 20, "tok-root-" + "y" * 20


@pytest.fixture
def console(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_DOCUMENT_STORE", str(tmp_path / "docs"))
    from documents.store import LocalDocumentStore
    LocalDocumentStore(tmp_path / "docs").put("agency-a", A["ids"]["invoice_id"], "invoice", b"%PDF-1.4 agency-a")
    engine = seed_read_model(f"sqlite:///{tmp_path / 'rm.sqlite3'}", A, B)
    recorder = Recorder(engine)
    app = create_app(console_settings(tmp_path, {TOKEN_A: "agency-a", TOKEN_ALL: "*"}), publish=recorder)
    store = app.state.console.store
    store.add_user("agency-a", "alice", PASSWORD, "admin")
    store.add_user("agency-a", "carol", PASSWORD, "clerk")
    store.add_user("agency-b", "bob", PASSWORD, "admin")
    return app, recorder


def login(app, tenant, username, password=PASSWORD) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login", data={"csrf": csrf, "tenant": tenant, "username": username, "password": password})
    assert answer.status_code == 303, answer.text
    client.csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/batches").text).group(1)
    return client


def path_of(route: Route, ids: dict) -> str:
    values = {"number": ids["number"], "batch": ids["batch"], "topic": ids["dlq_topic"], "partition": ids["dlq_partition"],
              "offset": ids["dlq_offset"]}
    missing = set(route.param_convertors) - set(values)
    assert not missing, f"route {route.path} has parameters {missing}: teach this test which of A's values to use"
    return route.path_format.format(**{k: values[k] for k in route.param_convertors})


def fields_naming(ids: dict, csrf: str) -> dict:
    """Every form / query field a route reads, filled with A's identifiers."""
    return {"csrf": csrf, "number": ids["number"], "invoice": ids["number"], "line": ids["line_short"],
            "pay_line_id": [ids["pending_short"], ids["line"]], "placement": ids["placement"],
            "account": ids["account"], "batch": ids["batch"], "confirm": "yes", "amount": "10.00", "reason": "test",
            "mode": "email", "action": "record", "recipients": "", "template": "", "first_number": "",
            "time_zone": "UTC", "week_ending_day": "SUNDAY", "invoice_delay_days": "2",
            "preferred_start_time": "13:00", "cycles": ["WEEKLY"], "status": "", "kind": "invoice"}


def secrets_of(ids: dict) -> list[str]:
    """What only A's data holds (what B types in may be echoed back in B's own filters)."""
    return [ids["invoice_id"], ids["account_name"], ids["dlq_error"], f"Hours of {ids['placement']}",
            f"bytes of {ids['tenant']}"]


def requests(app):
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path in PUBLIC, f"mounted app {route.path}: its routes are not checked here; add a Route"
            continue
        assert isinstance(route, Route), f"{route!r}: this test only knows Routes and the static Mount"
        for method in sorted(route.methods - {"HEAD"}):
            yield route, method


def send(client, route, method, ids, csrf, action=None):
    fields = fields_naming(ids, csrf)
    if action:
        fields["action"] = action
    path = path_of(route, ids)
    if method == "GET":
        return client.get(path, params=fields)
    return client.post(path, data=fields)


def test_every_route_sends_anonymous_users_to_log_in(console):
    app, recorder = console
    client = TestClient(app, follow_redirects=False)
    checked = 0
    for route, method in requests(app):
        if route.path in PUBLIC:
            continue
        assert getattr(route.endpoint, "console_role", None), f"{route.path} is not wrapped by console.web.page"
        answer = send(client, route, method, A["ids"], "forged")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), (method, route.path)
        assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
        checked += 1
    assert checked >= 20 and recorder.records == []
    assert client.get("/static/console.css").status_code == 200
    page = client.get("/login")
    assert "script-src 'none'" in page.headers["content-security-policy"] and page.headers["x-frame-options"] == \
        "SAMEORIGIN" and "<script" not in page.text


def test_a_user_of_another_agency_reaches_nothing_of_agency_a(console):
    app, recorder = console
    bob = login(app, "agency-b", "bob")
    for action in ("record", "send", "print", "snooze", "unsnooze", "preview", "save"):
        for route, method in requests(app):
            if route.path in PUBLIC or (method == "GET" and action != "record"):
                continue
            answer = send(bob, route, method, A["ids"], bob.csrf, action)
            leaked = [s for s in secrets_of(A["ids"]) if s in answer.text or s.encode() in answer.content]
            assert answer.status_code < 500 and (answer.status_code in (403, 404) or not leaked), \
                (action, method, route.path, answer.status_code, leaked)
    named = [r for r in recorder.records
             if r["tenant_id"] != "agency-b" or any(s in repr(r) for s in secrets_of(A["ids"]) + [
                 A["ids"]["tenant"], A["ids"]["placement"], A["ids"]["account"]])]
    assert named == []


def test_agency_a_reaches_its_own_records_through_the_same_routes(console):
    """The positive control of the test above: the same URLs and fields work for A's user."""
    app, recorder = console
    alice = login(app, "agency-a", "alice")
    ids = A["ids"]
    assert ids["account_name"] in alice.get(f"/invoices/{ids['number']}").text
    assert alice.get(f"/invoices/{ids['number']}/pdf").content == b"%PDF-1.4 agency-a"
    assert ids["pending_short"] in alice.get("/lines").text
    assert ids["dlq_error"] in alice.get("/operations").text
    assert alice.get(f"/operations/dead-letters/{ids['dlq_topic']}/0/{ids['dlq_offset']}").content == b"bytes of agency-a"
    assert ids["line_short"] in alice.get("/credit-memo", params={"line": ids["line_short"]}).text
    assert "Bravo" not in alice.get("/invoices").text and ids["account_name"] in alice.get("/invoices").text
    done = alice.post(f"/invoices/{ids['number']}/void", data={"csrf": alice.csrf, "confirm": "yes"})
    assert done.status_code == 200 and "Void 1001: done: VOID carried out" in done.text
    synced = alice.post(f"/batches/{ids['batch']}/resync", data={"csrf": alice.csrf})
    assert f"Sync batch {ids['batch']}: requested" in synced.text
    assert [(r["tenant_id"], r["command"], r["invoice_id"], r["batch_id"]) for r in recorder.records] == [
        ("agency-a", "VOID", ids["invoice_id"], None), ("agency-a", "RESYNC", None, ids["batch"])]


def test_forms_need_this_sessions_csrf_token_and_admin_screens_an_admin(console):
    app, recorder = console
    alice = login(app, "agency-a", "alice")
    for data in ({"confirm": "yes"}, {"confirm": "yes", "csrf": "not-the-token"}):
        answer = alice.post(f"/invoices/{A['ids']['number']}/void", data=data)
        assert answer.status_code == 403 and "did not come from this console" in answer.text
    carol = login(app, "agency-a", "carol")
    for path in ("/setup", "/operations", "/users"):
        assert carol.get(path).status_code == 403
    assert carol.post("/setup", data={"csrf": carol.csrf, "action": "save", "time_zone": "UTC"}).status_code == 403
    assert recorder.records == []


def test_login_refuses_wrong_passwords_and_tampered_cookies_and_accepts_the_ops_token(console):
    app, _ = console
    client = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    for tenant, user, password in (("agency-a", "alice", "wrong password!"), ("agency-b", "alice", PASSWORD),
                                   ("agency-a", "nobody", PASSWORD)):
        answer = client.post("/login", data={"csrf": csrf, "tenant": tenant, "username": user, "password": password})
        assert answer.status_code == 401 and "did not let you in" in answer.text
    assert client.post("/login", data={"tenant": "agency-a", "username": "alice", "password": PASSWORD}
                       ).status_code == 403                                      # no CSRF token
    stored = app.state.console.store.engine.connect().exec_driver_sql(
        "select password_hash from console_users where username='alice'").scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    alice = login(app, "agency-a", "alice")
    cookie = alice.cookies.get("backoffice_console")
    forged = TestClient(app, follow_redirects=False, cookies={"backoffice_console": cookie[:-3] + "abc"})
    assert forged.get("/invoices").status_code == 303

    by_token = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', by_token.get("/login").text).group(1)
    assert by_token.post("/login", data={"csrf": csrf, "token": TOKEN_A, "tenant": "agency-b"}).status_code == 303
    assert A["ids"]["account_name"] in by_token.get("/invoices").text          # the token's agency, not the typed one
    assert by_token.get("/users").status_code == 200                            # first admin
    root = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', root.get("/login").text).group(1)
    assert root.post("/login", data={"csrf": csrf, "token": TOKEN_ALL}).status_code == 401   # which agency?
    assert root.post("/login", data={"csrf": csrf, "token": "nope"}).status_code == 401
    assert client.get("/login", params={"next": "//evil.example/"}).text.count('value="/batches"') == 1


def test_a_refusal_is_shown_with_its_reason(console):
    app, recorder = console
    recorder.refuse = "invoice 1001 is New: record it before sending"
    alice = login(app, "agency-a", "alice")
    answer = alice.post(f"/invoices/{A['ids']['number']}/send", data={"csrf": alice.csrf, "mode": "email"})
    assert "Email &amp; Send 1001: refused: invoice 1001 is New: record it before sending" in answer.text
    bad = alice.post(f"/invoices/{A['ids']['number']}/send", data={"csrf": alice.csrf, "recipients": "x@@y"})
    assert bad.status_code == 400 and "Not an e-mail address" in bad.text
