"""The ops API's answers, computed from table contents (no Faust, no HTTP: easy to test)."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Iterable, Mapping

from backoffice import ledger as L
from backoffice.billto import BilltoHierarchy
from backoffice.figures import figures_of
from backoffice.generation import pending_amounts, pending_by_account
from backoffice.health import health_check
from backoffice.model import LineCategory, PayLine, Placement


def coverage(partitions: Iterable[int], of: int) -> dict:
    return {"ledger_partitions": sorted(partitions), "of": of}


def pending_lines(records: Iterable, today: dt.date) -> tuple[list[PayLine], dict[str, Placement]]:
    lines, placements = [], {}
    for record in records:
        led = record.ledger
        if led.placement is None:
            continue
        due = [x for x in L.due_lines(led, today, today) if x.pay_line_id not in record.reserved]
        if due:
            lines.extend(due)
            placements[led.placement_id] = led.placement
    return lines, placements


def list_batches(tenant_id: str, lines: list[PayLine], batches: list, sync: Mapping[str, dict], cover: dict,
                 placements: Mapping[str, Placement] | None = None, hierarchy: BilltoHierarchy | None = None) -> dict:
    """`batches`: the tenant's Batch objects, oldest first. With the pending lines' placements and
    the tenant's Billto hierarchy, the Pending list is also given per account (seed 000)."""
    amounts = pending_amounts(lines)
    accounts = pending_by_account(lines, placements or {}, hierarchy or BilltoHierarchy([]))
    rows = []
    for batch in reversed(batches):
        statuses = Counter((sync.get(i) or {}).get("status", "NOT_SYNCED") for i in batch.invoice_ids)
        rows.append({"batch_id": batch.batch_id, "created_at": batch.created_at.isoformat(),
                     "period_start": batch.period_start.isoformat(), "period_end": batch.period_end.isoformat(),
                     "invoice_count": batch.invoice_count, "credit_memo_count": batch.credit_memo_count,
                     "first_number": batch.first_number, "last_number": batch.last_number,
                     "amount_timesheets": str(batch.amount_timesheets),
                     "amount_products_services": str(batch.amount_products_services),
                     "sync_status": dict(sorted(statuses.items()))})
    return {"tenant_id": tenant_id,
            "pending": {"timesheets": str(amounts[LineCategory.TIMESHEETS]),
                        "products_services": str(amounts[LineCategory.PRODUCTS_SERVICES]), "pay_lines": len(lines),
                        "accounts": [{"account_id": a.account_id, "account_name": a.account_name,
                                      "currency": a.currency, "timesheets": str(a.timesheets),
                                      "products_services": str(a.products_services), "pay_lines": a.pay_lines}
                                     for a in accounts]},
            "batches": rows, "coverage": cover}


def batch_invoices(tenant_id: str, batch, records: Mapping[str, object], sync: Mapping[str, dict]) -> dict:
    out = []
    for invoice_id in batch.invoice_ids:
        record = records.get(invoice_id)
        if record is None:
            continue
        inv = record.invoice
        out.append({"invoice_id": inv.invoice_id, "number": inv.number, "kind": inv.kind.value,
                    "status": inv.status.value, "account_name": inv.account_name,
                    "total": str(figures_of(inv).total),
                    "sync_status": (sync.get(inv.invoice_id) or {}).get("status")})
    return {"tenant_id": tenant_id, "batch_id": batch.batch_id, "invoices": out}


def invoice_detail(record, sync: dict | None) -> dict:
    """The document's figures as the PDF prints them (backoffice.figures), amounts as strings."""
    inv = record.invoice
    figures = figures_of(inv)
    return {"invoice_id": inv.invoice_id, "tenant_id": inv.tenant_id, "number": inv.number, "kind": inv.kind.value,
            "status": inv.status.value, "account_id": inv.account_id, "account_name": inv.account_name,
            "currency": inv.currency, "subtotal": str(figures.subtotal), "tax": str(figures.tax),
            "total": str(figures.total), "issue_date": inv.issue_date.isoformat(), "due_date": inv.due_date.isoformat(),
            "lines": [{"line_id": x.line_id, "pay_line_id": x.pay_line_id, "placement_id": x.placement_id,
                       "description": x.description, "quantity": str(f.quantity), "rate": str(f.rate),
                       "amount": str(f.amount), "tax": str(f.tax), "total": str(f.total), "taxable": x.taxable,
                       "status": x.status.value} for x, f in zip(inv.lines, figures.lines, strict=True)],
            "allocations": [{"invoice_id": a.invoice_id, "amount": str(a.amount)} for a in figures.allocations],
            "history": [{"status": s, "at": at, "detail": d} for s, at, d in record.history],
            "document_uris": list(record.document_uris), "error": record.error, "sync": sync}


def tenant_health(tenant_id: str, lines: list[PayLine], placements: Mapping[str, Placement],
                  hierarchy: BilltoHierarchy, cover: dict) -> dict:
    report = health_check(lines, placements, hierarchy)
    return {"tenant_id": tenant_id, "ok": report.ok, "coverage": cover,
            "findings": [{"severity": f.severity.value, "code": f.code, "message": f.message, "ref": f.ref}
                         for f in report.findings]}


def tenant_windows(tenant_id: str, state, window_states: Iterable, upcoming: Iterable, served_here: bool) -> dict:
    """The tenant's batch windows: BLOCKED (the health check refused it; retried on each scheduler
    cycle, with why and since when), IN_PROGRESS, CLOSED (generated), REFUSED (a domain error) and
    the next SCHEDULED one of each cycle. `state`: its TenantState (None when unknown here);
    `window_states`: its WindowState rows; `upcoming`: the next BatchWindow of each cycle."""
    closed = state.closed if state else frozenset()
    blocked = {b.window_key: b for b in (state.blocked if state else ())}
    rows: dict[str, dict] = {}
    for ws in window_states:
        request = ws.request
        if request.cycle is None:                     # on-demand runs are not windows
            continue
        key = request.window_key
        status = _window_status(ws, key in closed, key in blocked)
        rows[key] = _window_row(key, request.period_start, request.period_end, status,
                                invoice_count=ws.invoice_count if status == "CLOSED" else None,
                                batch_id=ws.batch_id if status == "CLOSED" else None)
    for key, record in blocked.items():
        row = rows.get(key) or _window_row(key, None, None, "BLOCKED")
        if row["status"] != "IN_PROGRESS":            # a retry running now stays IN_PROGRESS
            row["status"] = "BLOCKED"
        row.update(reason=record.reason, errors=record.errors, since=record.since.isoformat(),
                   last_attempt=record.last_attempt.isoformat(), attempts=record.attempts)
        rows[key] = row
    for window in upcoming:
        if window.window_id not in rows:
            rows[window.window_id] = _window_row(window.window_id, window.period_start, window.period_end,
                                                 "SCHEDULED", run_at=window.run_at.isoformat())
    ordered = sorted(rows.values(), key=lambda r: (r["window_id"].partition(":")[2], r["window_id"]))
    return {"tenant_id": tenant_id, "served_here": served_here, "windows": ordered}


def _window_status(ws, closed: bool, blocked: bool) -> str:
    if not ws.done:
        return "IN_PROGRESS"
    if blocked:
        return "BLOCKED"
    if closed:
        return "REFUSED" if ws.blocked else "CLOSED"      # blocked and closed: refused outright
    return "BLOCKED" if ws.blocked else "CLOSED"


def _window_row(key: str, start: dt.date | None, end: dt.date | None, status: str, **extra) -> dict:
    cycle, _, period_end = key.partition(":")
    row = {"window_id": key, "cycle": cycle, "period_start": start.isoformat() if start else None,
           "period_end": (end.isoformat() if end else period_end), "status": status, "run_at": None,
           "reason": None, "errors": None, "since": None, "last_attempt": None, "attempts": None,
           "invoice_count": None, "batch_id": None}
    row.update(extra)
    return row
