"""The ops API's reads, answered from the read model (readmodel/queries.py): complete, whatever
the number of workers. JSON shapes as the worker's API gave them (api/models.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.engine import Engine

from api import models as m
from api.doors import ID_PATTERN, TENANT_PATTERN
from api.errors import ApiError
from api.windows import iso, tenant_windows
from readmodel import queries as q

PREFIX = "/api/v1/tenants/{tenant}"
Tenant = Annotated[str, Path(pattern=TENANT_PATTERN, description="Tenant id (your token's, or any with \"*\")")]
router = APIRouter(prefix=PREFIX, responses={401: {"model": m.Error}, 403: {"model": m.Error},
                                             400: {"model": m.Error}})


def engine(request: Request) -> Engine:
    """The read model's engine; 503 while `backoffice projector` has not created it."""
    state = request.app.state
    if not getattr(state, "read_model_ready", False):
        if not sa.inspect(state.engine).has_table("invoices"):
            raise ApiError(503, "the read model is empty: start `backoffice projector` (it creates and fills it)")
        state.read_model_ready = True
    return state.engine


DB = Annotated[Engine, Depends(engine)]
def _s(value) -> str | None:
    if isinstance(value, dt.datetime):
        return iso(value)
    return None if value is None else (value.isoformat() if isinstance(value, dt.date) else str(value))


@router.get("/batches", response_model=m.BatchList, summary="List Batches: pending amounts and previous batches")
def list_batches(tenant: Tenant, db: DB) -> dict:
    found = q.batches(db, tenant)
    currency = {}
    for inv in q.invoices(db, tenant=tenant):
        currency[inv["account_id"]] = inv["currency"]
    accounts = [{"account_id": p["account_id"], "account_name": p["account_name"] or p["account_id"] or "(unknown)",
                 "currency": currency.get(p["account_id"]), "timesheets": str(p["timesheets"]["amount"]),
                 "products_services": str(p["products_services"]["amount"]),
                 "pay_lines": p["timesheets"]["lines"] + p["products_services"]["lines"]} for p in found["pending"]]
    rows = [{**r, "created_at": _s(r["created_at"]), "period_start": _s(r["period_start"]),
             "period_end": _s(r["period_end"]), "amount_timesheets": str(r["amount_timesheets"]),
             "amount_products_services": str(r["amount_products_services"])} for r in q.batch_summaries(db, tenant)]
    total = {k: sum((Decimal(a[k]) for a in accounts), Decimal("0.00")) for k in ("timesheets", "products_services")}
    return {"tenant_id": tenant, "batches": rows,
            "pending": {"timesheets": str(total["timesheets"]), "products_services": str(total["products_services"]),
                        "pay_lines": sum(a["pay_lines"] for a in accounts), "accounts": accounts}}


@router.get("/batches/{batch_id}/invoices", response_model=m.BatchInvoices, responses={404: {"model": m.Error}},
            summary="One batch's invoices and credit memos")
def batch_invoices(tenant: Tenant, batch_id: Annotated[str, Path(pattern=ID_PATTERN)], db: DB) -> dict:
    docs = q.invoices(db, tenant=tenant, batch=batch_id)
    if not docs:
        raise ApiError(404, f"batch {batch_id} of tenant {tenant} is not known", "batch_id")
    sync = q.newest_sync(db, [d["invoice_id"] for d in docs])
    return {"tenant_id": tenant, "batch_id": batch_id,
            "invoices": [{"invoice_id": d["invoice_id"], "number": d["number"], "kind": d["kind"], "status": d["status"],
                          "account_name": d["account_name"], "total": str(d["total"]),
                          "sync_status": sync.get(d["invoice_id"])} for d in docs]}


@router.get("/invoices/{invoice_id}", response_model=m.InvoiceDetail, responses={404: {"model": m.Error}},
            summary="One invoice (by id or number) with its lines, sync status and history")
def invoice_detail(tenant: Tenant, invoice_id: Annotated[str, Path(pattern=ID_PATTERN)], db: DB) -> dict:
    try:
        return invoice_answer(q.invoice_detail(db, tenant, invoice_id))
    except q.LookupRefused as exc:
        raise ApiError(404, str(exc), "invoice_id") from None


def invoice_answer(detail: dict) -> dict:
    """readmodel.queries.invoice_detail in the worker API's shape (amounts as strings, tax and total
    per line as the PDF prints them; `sync` the newest outcome of any system, `syncs` one per system)."""
    d = q.plain(detail)
    lines = [{"line_id": x["line_id"], "pay_line_id": x["pay_line_id"], "short_id": x["short_id"],
              "placement_id": x["placement_id"], "description": x["description"], "quantity": x["quantity"],
              "rate": x["rate"], "amount": x["amount"], "tax": x["tax_share"], "total": x["line_total"],
              "taxable": x["taxable"], "category": x["category"], "status": x["status"]} for x in d["lines"]]
    newest = max(d["sync"], key=lambda r: r["occurred_at"]) if d["sync"] else None
    return {**{k: d[k] for k in ("invoice_id", "tenant_id", "number", "kind", "status", "account_id", "account_name",
                                 "currency", "subtotal", "tax", "total", "issue_date", "due_date", "batch_id",
                                 "allocations", "document_uris", "error")},
            "lines": lines, "sync": newest, "syncs": d["sync"],
            "history": [{"status": h["status"], "at": h["occurred_at"], "detail": h["event_type"]}
                        for h in d["history"]]}


@router.get("/health", response_model=m.TenantHealth,
            summary="The findings of the tenant's latest health check (its last generate, close-window or "
                    "consolidate)")
def tenant_health(tenant: Tenant, db: DB) -> dict:
    return q.latest_health(db, tenant)


@router.get("/windows", response_model=m.TenantWindows,
            summary="Batch windows: scheduled, blocked (why, since when; retried on each scheduler cycle), "
                    "closed, refused")
def windows(tenant: Tenant, request: Request, db: DB) -> dict:
    return tenant_windows(tenant, q.outcomes_of(db, tenant, prefix=f"close:{tenant}:"),
                          q.outcomes_of(db, tenant, ("SET_INVOICE_SETUP",)), request.app.state.settings,
                          request.app.state.now())


@router.get("/invoices", response_model=m.Listing, summary="Invoices and credit memos by status, account, "
                                                            "batch and period end")
def invoices(tenant: Tenant, db: DB, status: Annotated[str | None, Query(pattern="^[A-Za-z]{1,16}$")] = None,
             account: Annotated[str | None, Query(max_length=200)] = None,
             batch: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
             period: dt.date | None = None) -> dict:
    return {"tenant_id": tenant, "items": q.plain(q.invoices(db, tenant, status, account, batch, period))}


@router.get("/lines", response_model=m.Listing, summary="Pay lines with short ids and their invoice numbers")
def pay_lines(tenant: Tenant, db: DB, status: Annotated[str | None, Query(pattern="^[A-Za-z]{1,16}$")] = None,
              account: Annotated[str | None, Query(max_length=200)] = None) -> dict:
    return {"tenant_id": tenant, "items": q.plain(q.lines(db, tenant, status, account))}


@router.get("/dead-letters", response_model=m.Listing, summary="Refused input with its reason and origin")
def dead_letters(tenant: Tenant, db: DB) -> dict:
    return {"tenant_id": tenant, "items": q.plain(q.dead_letters(db, tenant))}
