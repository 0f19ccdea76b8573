"""The ops API on the worker's web server: thin glue from HTTP to ops/api (see its docstring)."""
from __future__ import annotations

import asyncio
import json
import re

from aiohttp.web import HTTPRequestEntityTooLarge
from faust.web import Request, Response, View
from pydantic import ValidationError

from infra.settings import load_settings
from ops.api import models, openapi, reads
from ops.api.auth import AuthError, authorize, load_tokens
from ops.api.bodies import BodyError, parse_json
from workers import clock
from workers.app import app
from backoffice.model import BillingCycle
from infra.settings import load_settings
from workers.command_logic import calendar_for
from workers.partitioning import partition_for
from workers.topology import P, TENANT_PARTITIONS, batches, billto, invoices, ledgers, sync_status, tenants, windows
from workers.window_logic import hierarchy_for

TENANT_RE = re.compile(openapi.TENANT_PATTERN)
ID_RE = re.compile(r"^[A-Za-z0-9:|._-]{1,200}$")
PREFIX = "/api/v1/tenants/{tenant}"
OPENAPI = openapi.build()
_SETTINGS = load_settings()


def _error(view: View, status: int, message: str, field: str | None = None) -> Response:
    return view.json({"error": message, "field": field}, status=status)


def _guard(view: View, request: Request, tenant: str, **ids: str) -> Response | None:
    if not TENANT_RE.match(tenant):
        return _error(view, 400, "tenant must be 1-100 letters, digits, '.', '_' or '-', "
                                 "starting with a letter or digit", "tenant")
    for name, value in ids.items():
        if not ID_RE.match(value):
            return _error(view, 400, f"{name} has characters an id never has", name)
    try:
        authorize(request.headers.get("Authorization"), tenant, load_tokens())
    except AuthError as exc:
        return _error(view, exc.status, exc.message, "Authorization")
    return None


def _tenant_ledgers(tenant: str):
    prefix = f"{tenant}:".encode()
    for key, record in ledgers.items():
        if key.startswith(prefix) and record is not None:
            yield record


def _coverage() -> dict:
    topic = ledgers.table.changelog_topic.get_topic_name()
    mine = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}
    return reads.coverage(mine, P)


def _owns_every_partition(table) -> bool:
    topic = table.table.changelog_topic.get_topic_name()
    mine = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}
    return len(mine) >= table.table.partitions


def _not_the_tenants(tenant: str, invoice_ids: list[str], batch_ids: list[str]) -> tuple[str, str] | None:
    """(field, id) of the first invoice or batch that is another tenant's, or unknown to a worker that
    holds every partition of its table: refused at the door like a read, not left to the worker."""
    for field, table, ids, owner in (("invoice_id", invoices, invoice_ids, lambda r: r.invoice.tenant_id),
                                     ("batch_id", batches, batch_ids, lambda b: b.tenant_id)):
        complete = _owns_every_partition(table) if ids else False
        for value in ids:
            found = table.get(value.encode())
            if (found is None and complete) or (found is not None and owner(found) != tenant):
                return field, value
    return None


async def _read_body(request: Request):
    """The JSON body, within the configured size and nesting depth (BodyError otherwise)."""
    try:
        raw = await request.read()
    except HTTPRequestEntityTooLarge:
        raise BodyError(413, f"the body is larger than {_SETTINGS.api_max_body_bytes} bytes") from None
    return parse_json(raw, _SETTINGS.api_max_body_bytes, _SETTINGS.api_max_json_depth)


def _sync_map(invoice_ids) -> dict:
    return {i: sync_status.get(i.encode()) for i in invoice_ids}


@app.page("/openapi.json")
class OpenApiDocument(View):
    async def get(self, request: Request) -> Response:
        return self.json(OPENAPI)


@app.page(PREFIX + "/batches")
class ListBatches(View):
    async def get(self, request: Request, tenant: str) -> Response:
        if (refused := _guard(self, request, tenant)) is not None:
            return refused
        lines, placements = reads.pending_lines(_tenant_ledgers(tenant), clock.today())
        state = tenants.get(tenant.encode())
        found = [b for b in (batches.get(i.encode()) for i in (state.batch_ids if state else ())) if b is not None]
        ids = [i for b in found for i in b.invoice_ids]
        return self.json(reads.list_batches(tenant, lines, found, _sync_map(ids), _coverage(), placements,
                                            hierarchy_for(tenant, billto.items())))


@app.page(PREFIX + "/batches/{batch_id}/invoices")
class BatchInvoices(View):
    async def get(self, request: Request, tenant: str, batch_id: str) -> Response:
        if (refused := _guard(self, request, tenant, batch_id=batch_id)) is not None:
            return refused
        batch = batches.get(batch_id.encode())
        if batch is None or batch.tenant_id != tenant:
            return _error(self, 404, f"batch {batch_id} of tenant {tenant} is not known here", "batch_id")
        records = {i: invoices.get(i.encode()) for i in batch.invoice_ids}
        return self.json(reads.batch_invoices(tenant, batch, {k: v for k, v in records.items() if v},
                                              _sync_map(batch.invoice_ids)))


@app.page(PREFIX + "/invoices/{invoice_id}")
class InvoiceDetail(View):
    async def get(self, request: Request, tenant: str, invoice_id: str) -> Response:
        if (refused := _guard(self, request, tenant, invoice_id=invoice_id)) is not None:
            return refused
        record = invoices.get(invoice_id.encode())
        if record is None or record.invoice.tenant_id != tenant:
            return _error(self, 404, f"invoice {invoice_id} of tenant {tenant} is not known here", "invoice_id")
        detail = reads.invoice_detail(record, sync_status.get(invoice_id.encode()))
        return self.json(json.loads(json.dumps(detail, default=str)))


@app.page(PREFIX + "/health")
class TenantHealth(View):
    async def get(self, request: Request, tenant: str) -> Response:
        if (refused := _guard(self, request, tenant)) is not None:
            return refused
        lines, placements = reads.pending_lines(_tenant_ledgers(tenant), clock.today())
        hierarchy = hierarchy_for(tenant, billto.items())
        return self.json(reads.tenant_health(tenant, lines, placements, hierarchy, _coverage()))


def _serves_tenant(tenant: str) -> bool:
    """Whether this worker holds the tenant's partition of the tenants (and windows) table."""
    topic = tenants.table.changelog_topic.get_topic_name()
    mine = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}
    return partition_for(tenant.encode(), TENANT_PARTITIONS) in mine


@app.page(PREFIX + "/windows")
class TenantWindows(View):
    async def get(self, request: Request, tenant: str) -> Response:
        if (refused := _guard(self, request, tenant)) is not None:
            return refused
        prefix = f"{tenant}|".encode()
        rows = [w for k, w in windows.items() if k.startswith(prefix) and w is not None]
        state, now = tenants.get(tenant.encode()), clock.now()
        calendar = calendar_for(state, load_settings())
        upcoming = [w for w in (calendar.next_window(cycle, now) for cycle in BillingCycle) if w is not None]
        return self.json(reads.tenant_windows(tenant, state, rows, upcoming, _serves_tenant(tenant)))


def _records(tenant: str, name: str, body) -> list[dict]:
    from cli.operator import command_record

    if name in ("snooze", "unsnooze"):
        return [command_record(tenant, name.upper(), pay_line_id=body.pay_line_id,
                               reason=getattr(body, "reason", None))]
    if name == "generate":
        return [command_record(tenant, "GENERATE", account_id=body.account_id, first_number=body.first_number,
                               as_of=body.as_of)]
    if name == "record":
        return [command_record(tenant, "RECORD", invoice_id=i, template=body.template) for i in body.invoice_ids]
    if name == "send":
        return [command_record(tenant, "SEND", invoice_id=i, recipients=body.recipients,
                               resend=body.resend) for i in body.invoice_ids]
    if name == "setup":
        return [command_record(tenant, "SET_INVOICE_SETUP", time_zone=body.time_zone,
                               week_ending_day=body.week_ending_day, invoice_delay_days=body.invoice_delay_days,
                               preferred_start_time=body.preferred_start_time, cycles=body.cycles)]
    return [command_record(tenant, "RESYNC", invoice_id=body.invoice_id, batch_id=body.batch_id)]


def _command_view(name: str, body_model) -> type[View]:
    class CommandView(View):
        async def post(self, request: Request, tenant: str) -> Response:
            if (refused := _guard(self, request, tenant)) is not None:
                return refused
            try:
                wait = float(request.query.get("wait", "0"))
            except ValueError:
                return _error(self, 400, "wait must be a number of seconds", "wait")
            if not 0 <= wait <= 30:
                return _error(self, 422, "wait must be between 0 and 30 seconds", "wait")
            try:
                raw = await _read_body(request)
            except BodyError as exc:
                return _error(self, exc.status, exc.message, "body")
            try:
                body = body_model.model_validate(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(x) for x in first["loc"]) or str(first.get("msg", "")).split(":")[0].split()[-1]
                return _error(self, 422, first["msg"], field or "body")
            records = _records(tenant, name, body)
            for r in records:
                if "pay_line_id" in r and r["pay_line_id"] and not r["pay_line_id"].startswith(f"{tenant}:"):
                    return _error(self, 404, f"pay line {r['pay_line_id']} is not one of tenant {tenant}'s",
                                  "pay_line_id")
            named = _not_the_tenants(tenant, [r["invoice_id"] for r in records if r.get("invoice_id")],
                                     [r["batch_id"] for r in records if r.get("batch_id")])
            if named is not None:
                field, value = named
                what = field.removesuffix("_id")
                return _error(self, 404, f"{what} {value} of tenant {tenant} is not known here", field)
            from cli.operator import publish_many_and_wait

            bootstrap = ",".join(str(u).removeprefix("kafka://") for u in app.conf.broker)
            found = await asyncio.get_running_loop().run_in_executor(
                None, lambda: publish_many_and_wait(bootstrap, records, wait))
            outcomes = {r["command_id"]: json.loads(json.dumps(found.get(r["command_id"]), default=str))
                        for r in records} if wait else {}
            return self.json({"command_ids": [r["command_id"] for r in records], "outcomes": outcomes}, status=202)

    CommandView.__name__ = f"{name.title()}Command"
    return CommandView


for _name, _model in models.COMMAND_BODIES.items():
    app.page(f"{PREFIX}/commands/{_name}")(_command_view(_name, _model))

