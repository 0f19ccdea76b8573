"""The ops API's operator commands: each publishes the same billing.commands records as the CLI
(ops/commands.py) and answers 202 with the command ids. `?wait=SECONDS` waits for the outcomes,
then (read your writes) for the read model to hold them and the invoices they name.

Ids are checked at the door against the read model (complete): an invoice or batch that is not
the path tenant's is a 404 before anything is published, like a read. Invoices may be named by
number as well as by id.

No `from __future__ import annotations` here: the routes are built in a loop, and FastAPI reads
each body model from the function's real annotation.
"""
import time
from typing import Annotated, Callable

from fastapi import APIRouter, Query, Request

from api import models as m
from api.errors import ApiError
from api.reads import DB, PREFIX, Tenant
from ops.commands import command_record
from readmodel import queries as q

MAX_WAIT = 120.0
Wait = Annotated[float, Query(ge=0, le=MAX_WAIT, description="Seconds to wait for the outcomes and for the "
                                                             "read model to show them (read your writes)")]
router = APIRouter(prefix=PREFIX, responses={400: {"model": m.Error}, 401: {"model": m.Error},
                                             403: {"model": m.Error}, 404: {"model": m.Error},
                                             413: {"model": m.Error}, 422: {"model": m.Error}})


def _record(tenant: str, kind: str, **fields) -> dict:
    return command_record(tenant, kind, requested_by="api", **fields)


def _invoice(db, tenant: str, ref: str) -> str:
    try:
        return q.resolve_invoice(db, tenant, ref)
    except q.LookupRefused as exc:
        raise ApiError(404, f"invoice {ref} of tenant {tenant} is not known: {exc}", "invoice_id") from None


def _pay_line(tenant: str, pay_line_id: str) -> str:
    if not pay_line_id.startswith(f"{tenant}:"):
        raise ApiError(404, f"pay line {pay_line_id} is not one of tenant {tenant}'s", "pay_line_id")
    return pay_line_id


def _records(db, tenant: str, name: str, body) -> list[dict]:
    if name in ("snooze", "unsnooze"):
        return [_record(tenant, name.upper(), pay_line_id=_pay_line(tenant, body.pay_line_id),
                        reason=getattr(body, "reason", None))]
    if name == "generate":
        return [_record(tenant, "GENERATE", account_id=body.account_id, first_number=body.first_number,
                        as_of=body.as_of)]
    if name == "record":
        return [_record(tenant, "RECORD", invoice_id=_invoice(db, tenant, i), template=body.template)
                for i in body.invoice_ids]
    if name == "send":
        return [_record(tenant, "SEND", invoice_id=_invoice(db, tenant, i), recipients=body.recipients,
                        resend=body.resend) for i in body.invoice_ids]
    if name == "setup":
        return [_record(tenant, "SET_INVOICE_SETUP", time_zone=body.time_zone, week_ending_day=body.week_ending_day,
                        invoice_delay_days=body.invoice_delay_days, preferred_start_time=body.preferred_start_time,
                        cycles=body.cycles)]
    if body.batch_id is not None and not q.batch_exists(db, tenant, body.batch_id):
        raise ApiError(404, f"batch {body.batch_id} of tenant {tenant} is not known", "batch_id")
    invoice_id = _invoice(db, tenant, body.invoice_id) if body.invoice_id is not None else None
    return [_record(tenant, "RESYNC", invoice_id=invoice_id, batch_id=body.batch_id)]


def _accept(request: Request, records: list[dict], wait: float) -> dict:
    bus = request.app.state.bus
    started = time.monotonic()
    found = bus.publish(records, wait)
    ids = [r["command_id"] for r in records]
    answer = {"command_ids": ids, "outcomes": {}, "read_model": None}
    if wait:
        answer["outcomes"] = {i: q.plain(found.get(i)) for i in ids}
        if all(i in found for i in ids):
            answer["read_model"] = bus.read_your_writes(ids, max(wait - (time.monotonic() - started), 1.0))
        else:
            answer["read_model"] = "not waited for: an outcome did not arrive in time (is a worker running?)"
    return answer


def _route(name: str, body_model: type) -> Callable:
    def post_command(tenant: Tenant, body: body_model, request: Request, db: DB, wait: Wait = 0.0) -> dict:
        return _accept(request, _records(db, tenant, name, body), wait)

    post_command.__name__ = f"{name}_command"
    return post_command


for _name, _model in m.COMMAND_BODIES.items():
    router.post(f"/commands/{_name}", status_code=202, response_model=m.CommandAccepted,
                summary=f"Publish a {_name} command (the CLI's record); ?wait=SECONDS for its outcome")(
        _route(_name, _model))
