"""A loopback Xero (aiohttp in a thread) for connector tests and benches: test infrastructure only.

Endpoints: POST /connect/token (refresh_token grant, rotating refresh tokens, invalid_grant
once revoked), and under /api.xro/2.0: GET/PUT Contacts, PUT/GET Invoices and CreditNotes
(summarizeErrors, InvoiceNumbers, IDs, where), GET/POST Invoices|CreditNotes/{id} (void),
PUT .../{id}/Attachments/{FileName}, PUT CreditNotes/{id}/Allocations. Documents live in
tests/connectors/xero_ledger.py (one Book per xero-tenant-id).

Behaviours, per xero-tenant-id:
- 401 for a missing/unknown/expired access token (tokens live `token_ttl` seconds; Xero: 30 min);
  403 for a tenant the token's grant does not cover;
- limits: `concurrent` calls in flight, `minute` calls per sliding window of 60 s / time_scale,
  `day` calls per day (reset with new_day()); over a limit -> 429 with Retry-After (seconds,
  scaled) and X-Rate-Limit-Problem (concurrent | minute | day). Every answer carries
  X-MinLimit-Remaining, X-DayLimit-Remaining and X-AppMinLimit-Remaining;
- Idempotency-Key: a write's first non-5xx answer is stored and replayed for the same key
  (nothing is applied twice); xero_accounting.yaml: "This allows you to safely retry requests
  without the risk of duplicate processing. 128 character max." -- a longer key is refused (400);
- `on_document(stage)` (a test's hook, e.g. a SIGKILL of the connector): called after a PUT
  Invoices|CreditNotes that stored a document, with "committed" (answer not sent yet) and
  "answered" (answer written to the socket);
- injected faults (inject()): "5xx" bursts, "429" storms, "reset" (commit, then drop the
  connection), "stall" (commit, then answer after `stall_seconds`), "hang" (hold requests
  until release_hangs()), "expire_tokens" (every access token expires at that request);
  each fault fires on `count` matching requests after letting `after` of them through.
As strict as Xero where our requests can break its rules (xero_accounting.yaml, Xero's
rounding guide):
- `unitdp`: without unitdp=4 a written UnitAmount is rounded to 2 decimals (then LineAmount
  must match the rounded figure) and reads return 2 decimals;
- void: POST Invoices|CreditNotes/{id} takes the spec's {"Invoices": [...]} wrapper, nothing else;
- attachments: the body's Content-Type must be application/octet-stream;
- summarizeErrors=false: each element answers for itself with HasErrors and ValidationErrors;
- refresh tokens expire `refresh_ttl` seconds after issue (Xero: 60 days) -> invalid_grant;
- GET Organisation, Accounts and TaxRates for `backoffice connect`;
- every request body is also read with xero-python's models (tests/connectors/vendor_models.py):
  a body the SDK cannot read is refused with a ValidationException.
Every API request is logged in `requests` (t (time.monotonic()), tenant, method, path, status, key, replayed, problem).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.connectors.loopback import LoopbackServer
from tests.connectors.xero_ledger import KINDS, Book, Invalid

API = "/api.xro/2.0/"


@dataclass
class Limits:
    minute: int = 60
    day: int = 5000
    concurrent: int = 5


@dataclass
class Fault:
    kind: str                   # 5xx | 429 | reset | stall | hang | expire_tokens
    count: int
    methods: tuple[str, ...] = ("GET", "PUT", "POST")
    path: str = ""              # regex searched in the path after /api.xro/2.0/
    status: int = 503
    after: int = 0              # matching requests to let through before the fault fires


@dataclass
class TenantState:
    limits: Limits
    book: Book = field(default_factory=Book)
    minute_calls: deque = field(default_factory=deque)
    day_calls: int = 0
    in_flight: int = 0
    faults: list[Fault] = field(default_factory=list)
    replies: dict[str, tuple[int, bytes]] = field(default_factory=dict)   # Idempotency-Key -> answer


def _dumps(body: Any) -> bytes:
    return json.dumps(body, default=lambda v: float(v) if isinstance(v, Decimal) else str(v)).encode()


class XeroTestServer(LoopbackServer):
    created: list = []      # every instance, for the contract-violation check (tests/connectors/conftest.py)
    name = "xero-test-server"

    def __init__(self, *, token_ttl: float = 1800.0, time_scale: float = 1.0, limits: Limits | None = None,
                 stall_seconds: float = 2.0, utcnow=None, refresh_ttl: float = 60 * 86400.0,
                 validate_bodies: bool = True):
        self.token_ttl, self.time_scale, self.stall_seconds = token_ttl, time_scale, stall_seconds
        self.refresh_ttl, self.validate_bodies = refresh_ttl, validate_bodies
        self.contract_violations: list[str] = []
        type(self).created.append(self)          # bodies xero-python's models refused
        self.country: dict[str, str] = {}                 # xero-tenant-id -> Organisation CountryCode
        self.default_limits = limits or Limits()
        self._utcnow = utcnow or (lambda: dt.datetime.now(dt.UTC))
        self.tenants: dict[str, TenantState] = {}
        self.requests: list[dict] = []
        self.token_requests = 0
        self._grants: dict[str, dict] = {}            # grant id -> {"tenants": set, "revoked": bool}
        self._refresh: dict[str, str] = {}            # refresh token -> grant id
        self._refresh_expiry: dict[str, float] = {}   # refresh token -> expires at (time.monotonic())
        self._access: dict[str, tuple[str, float]] = {}  # access token -> (grant id, expires at)
        self._codes: dict[str, str] = {}              # authorization code -> refresh token of its grant
        self._lock = threading.RLock()
        self.on_document = None                  # hook(stage): "committed" | "answered"
        super().__init__()
        self._hang = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/connect/token", self._token)
        app.router.add_route("*", API + "{tail:.*}", self._api)

    def before_stop(self) -> None:
        self.release_hangs()

    @property
    def token_url(self) -> str:
        return self.base_url + "/connect/token"

    # -- test controls (any thread) --------------------------------------------------------

    def tenant(self, xero_tenant_id: str) -> TenantState:
        with self._lock:
            if xero_tenant_id not in self.tenants:
                self.tenants[xero_tenant_id] = TenantState(Limits(**vars(self.default_limits)))
            return self.tenants[xero_tenant_id]

    def book(self, xero_tenant_id: str) -> Book:
        return self.tenant(xero_tenant_id).book

    def configure(self, xero_tenant_id: str, **limits: int) -> None:
        state = self.tenant(xero_tenant_id)
        with self._lock:
            for name, value in limits.items():
                setattr(state.limits, name, value)

    def inject(self, xero_tenant_id: str, kind: str, count: int = 1, **options: Any) -> None:
        with self._lock:
            self.tenant(xero_tenant_id).faults.append(Fault(kind, count, **options))

    def new_day(self, xero_tenant_id: str) -> None:
        with self._lock:
            self.tenant(xero_tenant_id).day_calls = 0

    def release_hangs(self) -> None:
        self._loop.call_soon_threadsafe(self._hang.set)

    def issue_grant(self, *xero_tenant_ids: str) -> str:
        """A consented connection covering these tenants: returns its first refresh token."""
        with self._lock:
            grant = secrets.token_hex(8)
            self._grants[grant] = {"tenants": set(xero_tenant_ids), "revoked": False}
            for tenant in xero_tenant_ids:
                self.tenant(tenant)
            token = secrets.token_urlsafe(24)
            self._refresh[token] = grant
            self._refresh_expiry[token] = time.monotonic() + self.refresh_ttl
            return token

    def issue_code(self, *xero_tenant_ids: str) -> str:
        """The user consented in the browser: a single-use authorization code for these tenants."""
        refresh = self.issue_grant(*xero_tenant_ids)
        code = secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = refresh
        return code

    def revoke_all(self) -> None:
        """Every grant revoked (user disconnected the app): refreshes now fail with invalid_grant."""
        with self._lock:
            for grant in self._grants.values():
                grant["revoked"] = True

    def revoke_grants_of(self, xero_tenant_id: str) -> None:
        """One organisation disconnected the app: only its grants fail with invalid_grant."""
        with self._lock:
            for grant in self._grants.values():
                if xero_tenant_id in grant["tenants"]:
                    grant["revoked"] = True

    def expire_access_tokens(self) -> None:
        with self._lock:
            self._access = {t: (g, 0.0) for t, (g, _) in self._access.items()}

    def api_requests(self, xero_tenant_id: str | None = None) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if xero_tenant_id is None or r["tenant"] == xero_tenant_id]

    # -- OAuth -----------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        with self._lock:
            self.token_requests += 1
            if form.get("grant_type") == "authorization_code":
                if not form.get("redirect_uri"):
                    return web.json_response({"error": "invalid_request"}, status=400)
                refresh_token = self._codes.pop(str(form.get("code")), "")        # codes are single use
            elif form.get("grant_type") == "refresh_token":
                refresh_token = str(form.get("refresh_token"))
            else:
                return web.json_response({"error": "unsupported_grant_type"}, status=400)
            grant_id = self._refresh.pop(refresh_token, None)   # rotation: single use
            expired = self._refresh_expiry.pop(refresh_token, 0.0) <= time.monotonic()
            grant = self._grants.get(grant_id or "")
            if grant is None or grant["revoked"] or expired:
                return web.json_response({"error": "invalid_grant"}, status=400)
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self._access[access] = (grant_id, time.monotonic() + self.token_ttl)
            self._refresh[refresh] = grant_id
            self._refresh_expiry[refresh] = time.monotonic() + self.refresh_ttl
        return web.json_response({"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                                  "expires_in": self.token_ttl, "scope": "accounting.transactions offline_access"})

    # -- API pipeline: auth, limits, faults, idempotency, handler ---------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        tenant_id = request.headers.get("xero-tenant-id", "")
        key = request.headers.get("Idempotency-Key")
        entry = {"t": time.monotonic(), "tenant": tenant_id, "method": request.method, "path": request.path[len(API):], "key": key,
                 "replayed": False, "problem": None, "status": None, "unitdp": request.query.get("unitdp")}
        with self._lock:
            self.requests.append(entry)
            state = self.tenant(tenant_id)
            fault = self._take_fault(state, request, ("expire_tokens",))
            if fault:
                self.expire_access_tokens()
            refusal = self._authorise(request, tenant_id) or self._admit(state, entry)
            if refusal is not None:
                entry["status"] = refusal.status
                return refusal
            state.in_flight += 1
        try:
            response = await self._admitted(request, state, entry, key)
        finally:
            with self._lock:
                state.in_flight -= 1
        entry["status"] = response.status
        return response

    def _authorise(self, request: web.Request, tenant_id: str) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        grant_id, expires = self._access.get(auth.removeprefix("Bearer "), ("", 0.0))
        if not grant_id or time.monotonic() >= expires:
            return web.json_response({"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"},
                                     status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if tenant_id not in self._grants[grant_id]["tenants"]:
            return web.json_response({"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"},
                                     status=403)
        return None

    def _admit(self, state: TenantState, entry: dict) -> web.Response | None:
        now, window = time.monotonic(), 60.0 / self.time_scale
        while state.minute_calls and state.minute_calls[0] <= now - window:
            state.minute_calls.popleft()
        problem, retry_after = None, 0.0
        if state.in_flight >= state.limits.concurrent:
            problem, retry_after = "concurrent", 1.0 / self.time_scale
        elif state.day_calls >= state.limits.day:
            utc = self._utcnow()
            midnight = dt.datetime.combine(utc.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            problem, retry_after = "day", (midnight - utc).total_seconds()
        elif len(state.minute_calls) >= state.limits.minute:
            problem, retry_after = "minute", state.minute_calls[0] + window - now
        if problem is None:
            state.minute_calls.append(now)
            state.day_calls += 1
            return None
        entry["problem"] = problem
        return self._reply(state, 429, {"Title": "Too Many Requests", "Status": 429},
                           {"Retry-After": f"{max(retry_after, 0.001):.3f}", "X-Rate-Limit-Problem": problem})

    def _reply(self, state: TenantState, status: int, body: Any, headers: dict | None = None,
               raw: bytes | None = None) -> web.Response:
        remaining = {"X-MinLimit-Remaining": str(max(0, state.limits.minute - len(state.minute_calls))),
                     "X-DayLimit-Remaining": str(max(0, state.limits.day - state.day_calls)),
                     "X-AppMinLimit-Remaining": "9999", **(headers or {})}
        return web.Response(status=status, body=raw if raw is not None else _dumps(body),
                            content_type="application/json", headers=remaining)

    def _take_fault(self, state: TenantState, request: web.Request, kinds: tuple[str, ...]) -> Fault | None:
        for fault in state.faults:
            if fault.count > 0 and fault.kind in kinds and request.method in fault.methods \
                    and re.search(fault.path, request.path[len(API):]):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.count -= 1
                return fault
        return None

    async def _admitted(self, request: web.Request, state: TenantState, entry: dict, key: str | None):
        with self._lock:
            before = self._take_fault(state, request, ("5xx", "429", "hang"))
        if before and before.kind == "hang":
            await self._hang.wait()
        elif before and before.kind == "5xx":
            return self._reply(state, before.status, {"Title": "Service Unavailable", "Status": before.status})
        elif before:
            entry["problem"] = "minute"
            return self._reply(state, 429, {"Title": "Too Many Requests"},
                               {"Retry-After": f"{1.0 / self.time_scale:.3f}", "X-Rate-Limit-Problem": "minute"})
        body = await request.read()
        if key is not None and len(key) > 128:
            return self._reply(state, 400, {"Type": "ValidationException", "Title": "Validation error",
                                            "Detail": "Idempotency-Key: 128 character max"})
        with self._lock:
            write = request.method in ("PUT", "POST")
            if write and key and key in state.replies:
                entry["replayed"] = True
                status, raw = state.replies[key]
                return self._reply(state, status, None, raw=raw)
            status, answer = self._handle(state.book, request, body)
            raw = _dumps(answer)
            if write and key:
                state.replies[key] = (status, raw)
            after = self._take_fault(state, request, ("reset", "stall")) if write else None
        if after and after.kind == "reset":
            request.transport.abort()
            raise asyncio.CancelledError
        if after and after.kind == "stall":
            await asyncio.sleep(self.stall_seconds)
        hook = self.on_document if _created_document(request, status, answer) else None
        if hook is None:
            return self._reply(state, status, None, raw=raw)
        hook("committed")
        response = self._reply(state, status, None, raw=raw)
        await response.prepare(request)
        await response.write_eof()
        hook("answered")
        return response

    # -- endpoints ---------------------------------------------------------------------------

    def _handle(self, book: Book, request: web.Request, body: bytes) -> tuple[int, Any]:
        path, method, query = request.path[len(API):], request.method, request.query
        unitdp = 4 if query.get("unitdp") == "4" else 2
        try:
            if method in ("PUT", "POST") and self.validate_bodies and "/Attachments/" not in path:
                from tests.connectors.vendor_models import xero_problems

                problems = xero_problems(path, json.loads(body or b"{}"))
                if problems:
                    self.contract_violations.extend(problems)
                    raise Invalid("; ".join(problems[:3]))
            if method == "GET" and path in ("Organisation", "Accounts", "TaxRates"):
                return 200, self._reference(book, path, request.headers.get("xero-tenant-id", ""))
            if path == "Contacts" and method == "GET":
                return 200, {"Contacts": book.find_contacts(query.get("where"))}
            if path == "Contacts" and method in ("PUT", "POST"):
                return self._create_many(book, "Contacts", body, query, lambda item, _: book.create_contact(item))
            match = re.fullmatch(r"(Invoices|CreditNotes)(?:/([^/]+))?(?:/(Attachments|Allocations)(?:/(.+))?)?", path)
            if not match:
                return 404, {"Title": "Not Found", "Detail": path}
            collection, doc_id, sub, file_name = match.groups()
            if doc_id is None and method == "GET":
                numbers = query.get("InvoiceNumbers")
                ids = query.get("IDs")
                docs = book.find_documents(collection, numbers=numbers.split(",") if numbers else None,
                                           ids=ids.split(",") if ids else None, where=query.get("where"))
                return 200, {collection: [_dp(d, unitdp) for d in docs]}
            if doc_id is None and method in ("PUT", "POST"):
                seen: set[str] = set()
                number_field = KINDS[collection][2]

                def create(item: dict, _index: int) -> dict:
                    doc = book.create_document(collection, item, seen)
                    seen.add(doc[number_field])
                    return doc
                status, answer = self._create_many(book, collection, _rounded(body, collection, unitdp), query, create)
                return status, {collection: [_dp(d, unitdp) for d in answer[collection]]}
            if sub is None and method == "GET":
                return 200, {collection: [_dp(book.document(collection, doc_id), unitdp)]}
            if sub is None and method == "POST":
                items = json.loads(body or b"{}").get(collection)      # the spec's wrapper, nothing else
                if not isinstance(items, list) or len(items) != 1:
                    raise Invalid(f"The request body must be {{\"{collection}\": [...]}} (xero_accounting.yaml)")
                if items[0].get("Status") != "VOIDED":
                    raise Invalid("Only voiding is supported by this test server.")
                return 200, {collection: [_dp(book.void(collection, doc_id), unitdp)]}
            if sub == "Attachments" and method in ("PUT", "POST") and file_name:
                if request.headers.get("Content-Type") != "application/octet-stream":
                    return 415, {"Title": "Unsupported Media Type", "Status": 415,
                                 "Detail": "Attachments are uploaded as application/octet-stream "
                                           f"(got {request.headers.get('Content-Type')})"}
                mime = "application/pdf" if file_name.lower().endswith(".pdf") else "application/octet-stream"
                return 200, {"Attachments": [book.attach(collection, doc_id, file_name, mime, body)]}
            if sub == "Allocations" and method == "PUT" and collection == "CreditNotes":
                items = json.loads(body, parse_float=Decimal).get("Allocations") or []
                return 200, {"Allocations": [book.allocate(doc_id, item) for item in items]}
            return 405, {"Title": "Method Not Allowed"}
        except Invalid as exc:
            return 400, {"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
                         "Elements": [{"ValidationErrors": [{"Message": str(exc)}]}]}
        except KeyError as exc:
            return 404, {"Title": "Not Found", "Detail": f"{exc} not found"}

    def _reference(self, book: Book, path: str, tenant_id: str) -> dict:
        """What `backoffice connect` reads: the organisation, its accounts and its tax rates."""
        if path == "Organisation":
            country = self.country.get(tenant_id, "NZ")
            return {"Organisations": [{"Name": f"Org {tenant_id}", "CountryCode": country, "BaseCurrency": "USD"}]}
        if path == "Accounts":
            return {"Accounts": [{"Code": code, "Name": f"Sales {code}", "Type": "REVENUE", "Status": "ACTIVE"}
                                 for code in sorted(book.accounts)]}
        return {"TaxRates": [{"TaxType": t, "Name": t, "Status": "ACTIVE", "EffectiveRate": float(r * 100)}
                             for t, r in book.tax_rates.items()]}

    @staticmethod
    def _create_many(book: Book, collection: str, body: bytes, query, create) -> tuple[int, Any]:
        """Xero's bulk write: with summarizeErrors=false every item answers for itself (200);
        otherwise one invalid item refuses the whole request (400) and nothing is saved."""
        items = json.loads(body, parse_float=Decimal).get(collection) or []
        summarize = query.get("summarizeErrors", "true").lower() != "false"
        snapshot = (dict(book.contacts), {k: dict(v) for k, v in book.documents.items()})
        answers, errors = [], []
        for index, item in enumerate(items):
            try:
                answers.append({**create(item, index), "StatusAttributeString": "OK", "HasErrors": False})
            except Invalid as exc:
                errors.append(str(exc))
                answers.append({**item, "HasErrors": True, "StatusAttributeString": "ERROR",
                                "ValidationErrors": [{"Message": str(exc)}]})
        if summarize and errors:
            book.contacts, book.documents = snapshot
            raise Invalid("; ".join(errors))
        return 200, {collection: answers}


def _created_document(request: web.Request, status: int, answer: Any) -> bool:
    collection = request.path[len(API):]
    return request.method == "PUT" and status < 400 and collection in ("Invoices", "CreditNotes") and any(
        not item.get("HasErrors") for item in (answer or {}).get(collection, []))


def _rounded(body: bytes, collection: str, unitdp: int) -> bytes:
    """Xero keeps 2 decimals of UnitAmount unless the request says unitdp=4 (rounded half up)."""
    if unitdp == 4:
        return body
    data = json.loads(body or b"{}", parse_float=Decimal)
    for item in data.get(collection) or []:
        for line in item.get("LineItems") or []:
            if "UnitAmount" in line:
                line["UnitAmount"] = Decimal(str(line["UnitAmount"])).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    return _dumps(data)


def _dp(doc: dict, unitdp: int) -> dict:
    """A document as read back: UnitAmount with 2 decimals unless the read asked for unitdp=4."""
    if unitdp == 4 or "LineItems" not in doc:
        return doc
    lines = [{**ln, "UnitAmount": Decimal(str(ln["UnitAmount"])).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")}
             if "UnitAmount" in ln else ln for ln in doc["LineItems"]]
    return {**doc, "LineItems": lines}
