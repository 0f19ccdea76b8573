"""Invoice Line Items (seed 003, manual mode): filters; Snooze / Un-snooze (seed 000's statuses);
Consolidate into one of the account's New invoices or a new one; Create Credit Memo from an
invoiced line (original prefilled, what is left to credit shown) or from a placement."""
from __future__ import annotations

import datetime as dt

from starlette.requests import Request

from backoffice.money import MoneyError, cents
from console import reads as cr
from console.web import blocking, page, refuse, render
from readmodel import queries as q

STATUSES = ("SCHEDULED", "PENDING", "SNOOZED", "INVOICED")
TYPES = ("TEMP", "PERM", "CONTRACT")


@page()
async def lines(request: Request):
    app, tenant, params = request.app.state.console, request.state.tenant, request.query_params
    f = {k: (params.get(k) or "").strip() or None
         for k in ("status", "account", "placement_type", "start", "end", "ref")}
    f["credit_memos"] = bool(params.get("credit_memos"))
    status = f["status"] if f["status"] in STATUSES else None
    ptype = f["placement_type"] if f["placement_type"] in TYPES else None
    found = await blocking(q.lines, app.engine, tenant, status, f["account"], ptype, f["credit_memos"])
    error = None
    try:     # the period: work dates from / to
        start, end = (dt.date.fromisoformat(f[k]) if f[k] else None for k in ("start", "end"))
    except ValueError:
        start = end = None
        error = "A period date is YYYY-MM-DD."
    found = [x for x in found if (start is None or x["work_date"] >= start) and (end is None or x["work_date"] <= end)]
    if f["ref"]:        # a health-check finding's record: a pay line, placement or account
        found = [x for x in found if f["ref"] in (x["pay_line_id"], x["placement_id"], x["account_id"])]
    currency = await blocking(cr.currency, app.engine, tenant)
    return render(request, "lines.html", lines=found, f=f, statuses=STATUSES, types=TYPES, currency=currency,
                  error=error)


async def _own_lines(request: Request) -> list[dict] | None:
    """The selected pay lines, each one of the session's tenant; None if any is not."""
    app, tenant = request.app.state.console, request.state.tenant
    refs = [r for r in request.state.form.getlist("pay_line_id") if r]
    found = [await blocking(cr.pay_line, app.engine, tenant, r) for r in refs]
    return found if refs and all(found) else None


@page()
async def act(request: Request):
    """Snooze / Un-snooze the selected lines."""
    action = request.state.form.get("action")
    if action not in ("snooze", "unsnooze"):
        return refuse(request, 400, "Choose Snooze or Un-snooze.")
    chosen = await _own_lines(request)
    if chosen is None:
        return refuse(request, 404, "Select line items of your agency.")
    reason = (request.state.form.get("reason") or "").strip() or None
    items = [{"pay_line_id": x["pay_line_id"], "reason": reason if action == "snooze" else None,
              "_label": f"{action.title()} {x['short_id']}"} for x in chosen]
    app = request.app.state.console
    result = await blocking(app.actions.run, request.state.tenant, action.upper(), items)
    return render(request, "outcome.html", result=result, back="/lines", back_label="Invoice Line Items")


@page()
async def consolidate(request: Request):
    """First the choice (the account's New invoices, or a new one), then the command."""
    app, tenant, form = request.app.state.console, request.state.tenant, request.state.form
    chosen = await _own_lines(request)
    if chosen is None:
        return refuse(request, 404, "Select pending line items of your agency to consolidate.")
    accounts = {x["account_id"] for x in chosen}
    if len(accounts) != 1:
        return refuse(request, 400, "Consolidate line items of one account at a time.")
    account = accounts.pop()
    target = form.get("invoice")
    if not target:
        found = await blocking(cr.new_invoices_of, app.engine, tenant, {account})
        return render(request, "consolidate.html", lines=chosen, invoices=found, account=account)
    if target == "new":
        result = await blocking(app.actions.run, tenant, "GENERATE", [{"account_id": account}],
                                f"New invoice for account {account}")
    else:
        try:
            invoice_id = await blocking(q.resolve_invoice, app.engine, tenant, target)
        except q.LookupRefused:
            return refuse(request, 404, f"Your agency has no invoice numbered {target}.")
        result = await blocking(app.actions.run, tenant, "CONSOLIDATE", [{
            "invoice_id": invoice_id, "account_id": account, "pay_line_ids": [x["pay_line_id"] for x in chosen]}],
            f"Consolidate into {target}")
    return render(request, "outcome.html", result=result, back="/lines", back_label="Invoice Line Items")


async def _credit_page(request: Request, status_code: int = 200, **extra):
    app, tenant = request.app.state.console, request.state.tenant
    return render(request, "credit_memo.html", status_code=status_code,
                  placements=await blocking(cr.placements, app.engine, tenant),
                  currency=await blocking(cr.currency, app.engine, tenant), **extra)


@page()
async def credit_form(request: Request):
    ref = request.query_params.get("line")
    line = None
    if ref:
        line = await blocking(cr.pay_line, request.app.state.console.engine, request.state.tenant, ref)
        if line is None:
            return refuse(request, 404, "Your agency has no such line item.")
    return await _credit_page(request, line=line)


@page()
async def credit(request: Request):
    app, tenant, form = request.app.state.console, request.state.tenant, request.state.form
    line, ref = None, (form.get("line") or "").strip()
    if ref:
        line = await blocking(cr.pay_line, app.engine, tenant, ref)
        if line is None:
            return refuse(request, 404, "Your agency has no such line item.")
    placement = line["placement_id"] if line else (form.get("placement") or "").strip()
    if not line and placement not in await blocking(cr.placements, app.engine, tenant):
        return refuse(request, 404, "Your agency has no such placement.")
    reason = (form.get("reason") or "").strip()
    try:
        amount = cents(form.get("amount") or "")
        if amount <= 0:
            raise MoneyError("not positive")
    except (MoneyError, ValueError, ArithmeticError):
        return await _credit_page(request, 400, line=line, error="The amount is a positive number with at most two "
                                                                 "decimals, e.g. 250.00.")
    if not reason:
        return await _credit_page(request, 400, line=line, error="Say why the client is credited.")
    if line and amount > line["remaining"]:
        return await _credit_page(request, 400, line=line, error=f"At most {line['remaining']} is left to credit "
                                                                 f"on this line.")
    taxable = {"yes": True, "no": False}.get(form.get("taxable") or "")
    fields = {"placement_id": placement, "amount": amount, "reason": reason, "taxable": None if line else taxable,
              "pay_line_id": line["pay_line_id"] if line else None,
              "invoice_id": line["invoice_id"] if line else None}
    result = await blocking(app.actions.run, tenant, "CREATE_CREDIT_MEMO", [fields], "Create Credit Memo")
    return render(request, "outcome.html", result=result, back="/lines?credit_memos=1",
                  back_label="Credit memo line items")
