"""A loopback QuickBooks Online (aiohttp in a thread) for connector tests and the bench:
test infrastructure only.

Endpoints: POST /oauth2/v1/tokens/bearer (refresh_token grant, rotating refresh tokens,
invalid_grant once revoked) and under /v3/company/{realm}: GET query (select * from
Customer|Item|Invoice|CreditMemo where DisplayName|Name|DocNumber = '...'), POST customer,
item, invoice, creditmemo (also ?operation=void|delete with SyncToken), GET invoice|creditmemo/{id},
POST payment (a zero-amount Payment whose LinkedTxn lines apply a CreditMemo to an Invoice),
POST batch (per-item Fault; the request log keeps each batch's item count) and POST upload
(multipart Attachable). Reference data for `backoffice connect`: select * from Account |
TaxCode | Item | Preferences | CompanyInfo.

As strict as QBO where our requests can break its rules (Intuit's "Batch operation" and "API
call limits and throttles" pages, the v3 entity reference):
- /batch: at most 10 items, a requestid of at most 36 characters and bIds of at most 10
  (otherwise the whole batch is refused), at most 40 batch requests a minute per realm (429);
- DocNumber is kept only when the company's Preferences.SalesFormsPrefs.CustomTxnNumbers is
  on (off: QBO numbers the document itself); a duplicate is refused with the realm's
  `duplicate_code` (6140, or 6210 as some endpoints report it);
- tax codes and accounts are the company's own: TAX/NON only in a US company, an item's
  IncomeAccountRef must be an Income account (6430 Invalid account type otherwise);
- Invoice Balance and CreditMemo RemainingCredit go down as a Payment applies a credit,
  over-applying is refused, and every update bumps SyncToken (the linked documents' too);
  an Invoice or CreditMemo a Payment links to cannot be voided or deleted (Fault 6000);
- Customer and Item names are unique (6240 Duplicate Name Exists Error);
- every request body is also checked against python-quickbooks' objects
  (tests/connectors/vendor_models.py): a body QBO would refuse is refused with 2010.

Behaviours per realm: minorversion required; 401 for expired/unknown tokens (`token_ttl`);
`concurrent` in flight and `minute` requests per sliding minute (scaled by `time_scale`),
over it 429 with an XML body and Retry-After (injected "429_bare": the XML body only, no
Retry-After, as QBO often answers); `requestid` replay (the first answer is
stored and returned again: nothing happens twice); DocNumber unique per entity (400 Fault
6140); stale SyncToken (400 Fault 5010); injected faults via inject(realm, kind, count, after):
"5xx", "429", "reset" (commit then drop the connection), "fault200" (HTTP 200 with a Fault),
"expire_tokens". Every API request is logged in `requests`.
Intuit, DocNumber: "If a duplicate DocNumber needs to be supplied, add the query parameter
name/value pair, include=allowduplicatedocnum to the URI" -- honoured here (a create with it
skips the duplicate check); without it a duplicate is refused.
`on_document(stage)` (a test's hook, e.g. a SIGKILL of the connector): called after a write
that created an Invoice or CreditMemo, once with "committed" (stored, answer not sent yet) and
once with "answered" (the answer written to the socket).
"""
from __future__ import annotations

import itertools
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

QUERY = re.compile(r"^select \* from (\w+) where (\w+) = '((?:[^'\\]|\\.)*)'$", re.I)
ENTRY = web.RequestKey("entry", dict)
ENTITIES = {"customer": "Customer", "item": "Item", "invoice": "Invoice", "creditmemo": "CreditMemo",
            "payment": "Payment"}


@dataclass
class Limits:
    minute: int = 500
    concurrent: int = 10
    batch_minute: int = 40          # Intuit: 40 batch requests a minute per realm
    batch_items: int = 10           # Intuit: up to 10 payloads a batch


US_TAX_CODES = {"TAX": {"Id": "TAX", "Name": "TAX"}, "NON": {"Id": "NON", "Name": "NON"}}
GLOBAL_TAX_CODES = {"5": {"Id": "5", "Name": "20.0% S"}, "7": {"Id": "7", "Name": "Exempt"}}
ACCOUNTS = {"1": {"Id": "1", "Name": "Checking", "AccountType": "Bank"},
            "79": {"Id": "79", "Name": "Services", "AccountType": "Income"},
            "80": {"Id": "80", "Name": "Sales of Product Income", "AccountType": "Income"}}


@dataclass
class Company:
    """The per-company settings a connector must not guess."""

    country: str = "US"
    custom_txn_numbers: bool = True
    duplicate_code: str = "6140"


@dataclass
class Fault:
    kind: str
    count: int
    after: int = 0
    path: str = ""


@dataclass
class Realm:
    limits: Limits
    company: Company = field(default_factory=Company)
    entities: dict[str, dict[str, dict]] = field(default_factory=lambda: {e: {} for e in ENTITIES.values()})
    accounts: dict[str, dict] = field(default_factory=lambda: {k: dict(v) for k, v in ACCOUNTS.items()})
    attachments: list[dict] = field(default_factory=list)
    replies: dict[str, tuple[int, Any]] = field(default_factory=dict)
    minute_calls: deque = field(default_factory=deque)
    batch_calls: deque = field(default_factory=deque)
    next_number: int = 1001
    in_flight: int = 0
    faults: list[Fault] = field(default_factory=list)


class QboTestServer(LoopbackServer):
    created: list = []      # every instance, for the contract-violation check (tests/connectors/conftest.py)
    name = "qbo-test-server"

    def __init__(self, *, token_ttl: float = 3600.0, time_scale: float = 1.0, limits: Limits | None = None,
                 validate_bodies: bool = True):
        self.token_ttl, self.time_scale = token_ttl, time_scale
        self.validate_bodies = validate_bodies
        self.contract_violations: list[str] = []
        type(self).created.append(self)         # bodies python-quickbooks refused
        self.default_limits = limits or Limits()
        self.realms: dict[str, Realm] = {}
        self.requests: list[dict] = []
        self._refresh: dict[str, bool] = {}              # refresh token -> revoked?
        self._access: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.on_document = None                  # hook(stage): "committed" | "answered"
        super().__init__()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth2/v1/tokens/bearer", self._token)
        app.router.add_route("*", "/v3/company/{realm}/{tail:.*}", self._api)

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth2/v1/tokens/bearer"

    # -- controls ------------------------------------------------------------------------------
    def realm(self, realm_id: str) -> Realm:
        with self._lock:
            return self.realms.setdefault(realm_id, Realm(Limits(**vars(self.default_limits))))

    def issue_refresh_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self._refresh[token] = False
        return token

    def revoke(self, refresh_token: str) -> None:
        with self._lock:
            self._refresh[refresh_token] = True

    def revoke_all(self) -> None:
        with self._lock:
            self._refresh = {t: True for t in self._refresh}

    def company(self, realm_id: str, **settings: Any) -> Company:
        """Set a realm's company settings (country, custom_txn_numbers, duplicate_code)."""
        company = self.realm(realm_id).company
        for name, value in settings.items():
            setattr(company, name, value)
        return company

    def tax_codes(self, realm_id: str) -> dict[str, dict]:
        return US_TAX_CODES if self.realm(realm_id).company.country == "US" else GLOBAL_TAX_CODES

    def inject(self, realm_id: str, kind: str, count: int = 1, after: int = 0, path: str = "") -> None:
        self.realm(realm_id).faults.append(Fault(kind, count, after, path))

    def documents(self, realm_id: str, entity: str = "Invoice") -> list[dict]:
        return list(self.realm(realm_id).entities[entity].values())

    def credit_applications(self, realm_id: str) -> list[tuple[dict, dict]]:
        """Per Payment: {TxnType: (DocNumber, Amount)} of its linked lines, and the Payment itself."""
        number_of = {d["Id"]: d["DocNumber"] for e in ("Invoice", "CreditMemo") for d in self.documents(realm_id, e)}
        return [({ln["LinkedTxn"][0]["TxnType"]: (number_of[ln["LinkedTxn"][0]["TxnId"]], ln["Amount"])
                  for ln in payment["Line"]}, payment) for payment in self.documents(realm_id, "Payment")]

    # -- OAuth ---------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        with self._lock:
            token = str(form.get("refresh_token"))
            if form.get("grant_type") != "refresh_token" or self._refresh.pop(token, True):
                return web.json_response({"error": "invalid_grant"}, status=400)
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self._access[access] = time.monotonic() + self.token_ttl
            self._refresh[refresh] = False
        return web.json_response({"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                                  "expires_in": self.token_ttl, "x_refresh_token_expires_in": 8726400})

    # -- API -----------------------------------------------------------------------------------
    def _fault(self, realm: Realm, kind: str, path: str) -> bool:
        for f in realm.faults:
            if f.kind == kind and f.count > 0 and f.path in path:
                if f.after > 0:
                    f.after -= 1
                    continue
                f.count -= 1
                return True
        return False

    async def _api(self, request: web.Request) -> web.StreamResponse:
        realm_id, tail = request.match_info["realm"], request.match_info["tail"]
        realm = self.realm(realm_id)
        entry = {"t": time.monotonic(), "realm": realm_id, "method": request.method, "path": tail,
                 "requestid": request.query.get("requestid"), "status": None}
        request[ENTRY] = entry
        if tail == "batch":           # counted before any refusal: a refused batch of 31 is still ours to see
            try:
                entry["items"] = len(json.loads(await request.read() or b"{}").get("BatchItemRequest", []))
            except (ValueError, AttributeError):
                entry["items"] = None        # not a batch body: the contract check below refuses it
        with self._lock:
            self.requests.append(entry)
            if self._fault(realm, "expire_tokens", tail):
                self._access = {t: 0.0 for t in self._access}
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if self._access.get(token, 0.0) <= time.monotonic():
                entry["status"] = 401
                return web.json_response({"Fault": {"Error": [{"Message": "AuthenticationFailed", "code": "3200"}],
                                                    "type": "AUTHENTICATION"}}, status=401)
            now, window = time.monotonic(), 60.0 / self.time_scale
            while realm.minute_calls and realm.minute_calls[0] <= now - window:
                realm.minute_calls.popleft()
            bare = self._fault(realm, "429_bare", tail)
            injected = bare or self._fault(realm, "429", tail)
            if injected or realm.in_flight >= realm.limits.concurrent or len(realm.minute_calls) >= realm.limits.minute:
                entry["status"] = 429
                over_minute = not injected and len(realm.minute_calls) >= realm.limits.minute
                retry = max(realm.minute_calls[0] + window - now, 0.001) if over_minute else 1 / self.time_scale
                return web.Response(status=429, content_type="application/xml",
                                    headers={} if bare else {"Retry-After": f"{retry:.3f}"},
                                    text='<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE"><Error code="003001">'
                                         '<Message>ThrottleExceeded</Message></Error></Fault></IntuitResponse>')
            if tail == "batch":
                while realm.batch_calls and realm.batch_calls[0] <= now - window:
                    realm.batch_calls.popleft()
                if len(realm.batch_calls) >= realm.limits.batch_minute:
                    entry["status"] = 429
                    retry = max(realm.batch_calls[0] + window - now, 0.001)
                    return web.Response(status=429, content_type="application/xml", headers={"Retry-After": f"{retry:.3f}"},
                                        text='<?xml version="1.0"?><IntuitResponse><Fault type="SERVICE"><Error code="003001">'
                                             '<Message>ThrottleExceeded</Message><Detail>Batch requests per minute exceeded'
                                             '</Detail></Error></Fault></IntuitResponse>')
                realm.batch_calls.append(now)
            realm.minute_calls.append(now)
            realm.in_flight += 1
        try:
            response = await self._admitted(request, realm, tail)
        finally:
            with self._lock:
                realm.in_flight -= 1
        entry["status"] = response.status
        return response

    async def _admitted(self, request: web.Request, realm: Realm, tail: str) -> web.StreamResponse:
        if int(request.query.get("minorversion", "0")) < 75:
            return web.json_response(_fault("2010", "minorversion 75 or later required"), status=400)
        if self._fault(realm, "5xx", tail):
            return web.json_response({"error": "Service Unavailable"}, status=503)
        body = await request.read()
        if request.method == "POST" and tail != "upload":
            refused = self._refuse_by_contract(request, tail, body)
            if refused is not None:
                return web.json_response(refused, status=400)
        key = request.query.get("requestid") if request.method == "POST" else None
        with self._lock:
            if request.method == "POST" and self._fault(realm, "fault200", tail):    # refused, nothing applied
                return web.json_response(_fault("6000", "A business validation error has occurred"), status=200)
            if key and key in realm.replies:
                status, data = realm.replies[key]
            else:
                status, data = self._handle(realm, request, tail, body)
                if key and status < 500:
                    realm.replies[key] = (status, data)
            drop = request.method == "POST" and self._fault(realm, "reset", tail)
        if drop:                                   # committed, but the answer never arrives
            request.transport.close()
            raise ConnectionResetError("injected reset after commit")
        hook = self.on_document if _created_document(request, tail, status, data) else None
        if hook is None:
            return web.json_response(data, status=status)
        hook("committed")
        response = web.json_response(data, status=status)
        await response.prepare(request)
        await response.write_eof()
        hook("answered")
        return response

    def _refuse_by_contract(self, request: web.Request, tail: str, body: bytes) -> dict | None:
        """What QBO refuses before looking at the documents: batch shape and the entity schema."""
        data = json.loads(body or b"{}")
        allow = "allowduplicatedocnum" in request.query.get("include", "").split(",")
        if tail == "batch":
            requestid = request.query.get("requestid") or ""
            items = data.get("BatchItemRequest", [])
            if len(requestid) > 36:
                return _fault("2010", f"Request has invalid or unsupported property: requestid longer than 36 "
                                      f"characters ({len(requestid)})")
            if len(items) > self.realm(request.match_info["realm"]).limits.batch_items:
                return _fault("2010", f"Request has invalid or unsupported property: {len(items)} batch items, "
                                      f"at most 10 allowed")
            long_ids = [str(i.get("bId")) for i in items if len(str(i.get("bId", ""))) > 10]
            if requestid and long_ids:
                return _fault("2010", f"Request has invalid or unsupported property: bId longer than 10 "
                                      f"characters: {long_ids[0]}")
        if not self.validate_bodies:
            return None
        from tests.connectors.vendor_models import qbo_problems

        problems = qbo_problems(tail.split("/")[0], request.query.get("operation"), data)
        if problems:
            self.contract_violations.extend(problems)
            return _fault("2010", "Request has invalid or unsupported property: " + "; ".join(problems[:3]))
        return None

    def _reference_data(self, realm: Realm, entity: str, realm_id: str) -> list[dict] | None:
        if entity == "Account":
            return list(realm.accounts.values())
        if entity == "TaxCode":
            return list(self.tax_codes(realm_id).values())
        if entity == "Preferences":
            return [{"Id": "1", "SyncToken": "0",
                     "SalesFormsPrefs": {"CustomTxnNumbers": realm.company.custom_txn_numbers}}]
        if entity == "CompanyInfo":
            return [{"Id": "1", "CompanyName": f"Company {realm_id}", "Country": realm.company.country}]
        return None

    def _handle(self, realm: Realm, request: web.Request, tail: str, body: bytes) -> tuple[int, Any]:
        if request.method == "GET" and tail == "query":
            text = request.query.get("query", "").strip()
            whole = re.match(r"^select \* from (\w+)$", text, re.I)
            if whole:
                entity = whole.group(1)
                found = self._reference_data(realm, entity, request.match_info["realm"])
                if found is None:
                    found = list(realm.entities.get(entity, {}).values())
                return 200, {"QueryResponse": {entity: found} if found else {}}
            match = QUERY.match(text)
            if not match:
                return 400, _fault("4000", "query not understood")
            entity, fieldname, raw = match.groups()
            value = re.sub(r"\\(.)", r"\1", raw)
            found = [e for e in realm.entities.get(entity, {}).values() if e.get("status") != "delete"
                     and str(_plain(e.get(fieldname))) == value]
            return 200, {"QueryResponse": {entity: found} if found else {}}
        parts = tail.split("/")
        entity = ENTITIES.get(parts[0])
        if request.method == "GET" and entity and len(parts) == 2:
            doc = realm.entities[entity].get(parts[1])
            return (200, {entity: doc}) if doc else (400, _fault("610", "Object Not Found"))
        if request.method != "POST":
            return 404, _fault("404", "no such endpoint")
        if tail == "upload":
            return self._upload(realm, request, body)
        data = json.loads(body or b"{}")
        allow = "allowduplicatedocnum" in request.query.get("include", "").split(",")
        if tail == "batch":
            items = data.get("BatchItemRequest", [])
            out = []
            for item in items:
                ent = next(k for k in item if k not in ("bId", "operation"))
                status, result = self._create(realm, ent, item[ent], request.match_info["realm"], allow)
                out.append({"bId": item["bId"], **(result if status != 200 else {ent: result[ent]})})
            return 200, {"BatchItemResponse": out}
        if entity is None:
            return 404, _fault("404", "no such endpoint")
        operation = request.query.get("operation")
        if operation in ("void", "delete"):
            return self._void(realm, entity, data, operation)
        return self._create(realm, entity, data, request.match_info["realm"], allow)

    def _create(self, realm: Realm, entity: str, data: dict, realm_id: str,
                allow_duplicate: bool = False) -> tuple[int, Any]:
        table = realm.entities[entity]
        if entity in ("Invoice", "CreditMemo"):
            if not realm.company.custom_txn_numbers:     # QBO numbers it: what we sent is not kept
                data = {**data, "DocNumber": str(realm.next_number)}
                realm.next_number += 1
            number = data.get("DocNumber", "")
            if not number or len(number) > 21:
                return 400, _fault("2050", "DocNumber missing or longer than 21 characters")
            if not allow_duplicate and any(d["DocNumber"] == number for d in table.values()):
                return 400, _fault(realm.company.duplicate_code, "Duplicate Document Number Error: You must specify "
                                   f"a different number. This number has already been used. DocNumber={number}")
            if data.get("CustomerRef", {}).get("value") not in realm.entities["Customer"]:
                return 400, _fault("2500", "Invalid Reference Id: customer")
            lines = data.get("Line", [])
            for line in lines:
                detail = line.get("SalesItemLineDetail", {})
                expected = (Decimal(str(detail.get("Qty", 0))) * Decimal(str(detail.get("UnitPrice", 0))))
                if abs(expected - Decimal(str(line["Amount"]))) > Decimal("0.01"):
                    return 400, _fault("6070", "Amount is not equal to UnitPrice * Qty")
                if detail.get("ItemRef", {}).get("value") not in realm.entities["Item"]:
                    return 400, _fault("2500", "Invalid Reference Id: item")
                code = (detail.get("TaxCodeRef") or {}).get("value")
                if code not in self.tax_codes(realm_id):
                    return 400, _fault("2500", f"Invalid Reference Id: TaxCode {code} does not exist in this "
                                               f"company ({realm.company.country})")
            subtotal = sum(Decimal(str(line["Amount"])) for line in lines)
            tax = Decimal(str(data.get("TxnTaxDetail", {}).get("TotalTax", 0)))
            total = float(subtotal + tax)
            data = {**data, "TotalAmt": total, "Balance": total}
            if entity == "CreditMemo":
                data["RemainingCredit"] = total
        elif entity == "Payment":
            problem = _payment_problem(realm, data)
            if problem:
                return 400, _fault("6000", problem)
            _apply_payment(realm, data)
        elif entity in ("Customer", "Item"):
            name_field = "DisplayName" if entity == "Customer" else "Name"
            if any(c[name_field] == data.get(name_field) for c in table.values()):
                return 400, _fault("6240", "Duplicate Name Exists Error: The name supplied already exists: "
                                           f"{data.get(name_field)}")
            if entity == "Item":
                account = realm.accounts.get(str((data.get("IncomeAccountRef") or {}).get("value")))
                if account is None:
                    return 400, _fault("2500", "Invalid Reference Id: IncomeAccountRef")
                if account["AccountType"] != "Income":
                    return 400, _fault("6430", f"Invalid account type: {account['Name']} is a "
                                               f"{account['AccountType']} account; use an income account")
        doc_id = str(next(self._ids))
        table[doc_id] = {**data, "Id": doc_id, "SyncToken": "0"}
        return 200, {entity: table[doc_id]}

    def _void(self, realm: Realm, entity: str, data: dict, operation: str) -> tuple[int, Any]:
        doc = realm.entities[entity].get(str(data.get("Id")))
        if doc is None:
            return 400, _fault("610", "Object Not Found")
        if str(data.get("SyncToken")) != doc["SyncToken"]:
            return 400, _fault("5010", "Stale Object Error: You and someone else are editing the same object")
        linked = [p["Id"] for p in realm.entities["Payment"].values() if p.get("status") != "delete" and any(
            str(link.get("TxnId")) == doc["Id"] and link.get("TxnType") == entity
            for line in p.get("Line", []) for link in line.get("LinkedTxn", []))]
        if linked:            # QBO: a transaction a payment links to cannot be voided/deleted under it
            return 400, _fault("6000", f"A business validation error has occurred while processing your request: "
                                       f"{entity} {doc['DocNumber']} is linked to Payment {', '.join(linked)}; "
                                       f"delete or unlink the payment first")
        doc["SyncToken"] = str(int(doc["SyncToken"]) + 1)
        if entity == "Payment" and doc.get("status") != "delete":
            _apply_payment(realm, doc, -1)           # the credit goes back to the memo, the balance to the invoice
        doc["PrivateNote"] = "Voided" if operation == "void" else "Deleted"
        doc["status"] = operation
        return 200, {entity: doc}

    def _upload(self, realm: Realm, request: web.Request, body: bytes) -> tuple[int, Any]:
        boundary = request.content_type and request.headers["Content-Type"].split("boundary=")[-1]
        parts = body.split(b"--" + boundary.encode())
        meta, content = None, None
        for part in parts:
            head, _, payload = part.partition(b"\r\n\r\n")
            payload = payload.rsplit(b"\r\n", 1)[0]
            if b'name="file_metadata_0"' in head:
                meta = json.loads(payload)
            elif b'name="file_content_0"' in head:
                content = payload
        if meta is None or content is None:
            return 400, _fault("2010", "file_metadata_0 and file_content_0 are required")
        attachable = {**meta, "Id": str(next(self._ids)), "Size": len(content), "content": content.hex()}
        realm.attachments.append(attachable)
        return 200, {"AttachableResponse": [{"Attachable": {k: v for k, v in attachable.items() if k != "content"}}]}


def _payment_problem(realm: Realm, data: dict) -> str | None:
    """A Payment applying credits: every LinkedTxn exists, no line applies more than the
    invoice's Balance or the credit memo's RemainingCredit, and the lines balance to TotalAmt."""
    if data.get("CustomerRef", {}).get("value") not in realm.entities["Customer"]:
        return "Invalid Reference Id: customer"
    signed = Decimal("0")
    for line in data.get("Line", []):
        for link in line.get("LinkedTxn", []):
            table = {"Invoice": "Invoice", "CreditMemo": "CreditMemo"}.get(link.get("TxnType"))
            doc = realm.entities[table].get(str(link.get("TxnId"))) if table else None
            if doc is None:
                return f"Invalid Reference Id: {link.get('TxnType')} {link.get('TxnId')}"
            left = doc["Balance"] if table == "Invoice" else doc["RemainingCredit"]
            if Decimal(str(line["Amount"])) > Decimal(str(left)):
                return f"the amount applied ({line['Amount']}) exceeds what is left on {table} {doc['DocNumber']} ({left})"
            signed += Decimal(str(line["Amount"])) * (1 if table == "Invoice" else -1)
    if signed != Decimal(str(data.get("TotalAmt", 0))):
        return "the lines do not add up to the payment's TotalAmt"
    return None


def _plain(value: Any) -> Any:
    """A Ref compares by its value in a query (`where CustomerRef = '12'`)."""
    return value.get("value") if isinstance(value, dict) and "value" in value else value


def _apply_payment(realm: Realm, data: dict, sign: int = 1) -> None:
    """Applying lowers the invoice's Balance and the memo's RemainingCredit (and Balance) and
    bumps both SyncTokens: they were updated. sign -1: the payment deleted, both restored."""
    for line in data.get("Line", []):
        for link in line.get("LinkedTxn", []):
            doc = realm.entities[link["TxnType"]][str(link["TxnId"])]
            amount = Decimal(str(line["Amount"])) * sign
            doc["Balance"] = float(Decimal(str(doc["Balance"])) - amount)
            if link["TxnType"] == "CreditMemo":
                doc["RemainingCredit"] = float(Decimal(str(doc["RemainingCredit"])) - amount)
            doc["SyncToken"] = str(int(doc["SyncToken"]) + 1)


def _created_document(request: web.Request, tail: str, status: int, data: Any) -> bool:
    if request.method != "POST" or status >= 400 or request.query.get("operation"):
        return False
    if tail in ("invoice", "creditmemo"):
        return True
    return tail == "batch" and any("Invoice" in r or "CreditMemo" in r for r in data.get("BatchItemResponse", []))


def _fault(code: str, message: str) -> dict:
    return {"Fault": {"Error": [{"Message": message, "Detail": message, "code": code}], "type": "ValidationFault"},
            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
