"""List Batches with Generate Invoices (seed 000: Run Health Check, first invoice number, Generate)
and the Invoices list with its filters and mass Record & Present / Email & Send / Print & Send
(seed 003)."""
from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import RedirectResponse

from console import reads as cr
from console.ops_api import fetch
from console.web import blocking, page, render
from readmodel import queries as q

STATUSES = ("NEW", "RECORDED", "SENT", "VOID")
BULK = {"record": ("RECORD", "Record & Present"), "send": ("SEND", "Email & Send"),
        "print": ("PRINT_AND_SEND", "Print & Send")}


@page()
async def home(request: Request):
    return RedirectResponse("/batches", status_code=303)


async def _batches_page(request: Request, **extra):
    app, tenant = request.app.state.console, request.state.tenant
    found = await blocking(q.batches, app.engine, tenant)
    last = await blocking(cr.last_number, app.engine, tenant)
    currency = await blocking(cr.currency, app.engine, tenant)
    windows, windows_error = await blocking(fetch, app, tenant, "windows")
    blocked = [w for w in (windows or {}).get("windows", []) if w.get("status") == "BLOCKED"]
    return render(request, "batches.html", batches=found["batches"][::-1], pending=found["pending"],
                  next_number=(last or 0) + 1, currency=currency, blocked=blocked, windows_error=windows_error,
                  today=dt.date.today().isoformat(), **extra)


@page()
async def batches(request: Request):
    return await _batches_page(request)


@page()
async def health(request: Request):
    """Run Health Check: the findings over the tenant's pending lines, each linked to the line."""
    app = request.app.state.console
    report, error = await blocking(fetch, app, request.state.tenant, "health")
    return await _batches_page(request, health=report, health_error=error)


@page()
async def generate(request: Request):
    app, form = request.app.state.console, request.state.form
    first = (form.get("first_number") or "").strip()
    as_of = (form.get("as_of") or "").strip()
    try:
        fields = {"first_number": int(first) if first else None,
                  "as_of": dt.date.fromisoformat(as_of) if as_of else None}
        if fields["first_number"] is not None and fields["first_number"] < 1:
            raise ValueError
    except ValueError:
        return await _batches_page(request, form_error="The first invoice number is a whole number from 1, "
                                                        "the date is YYYY-MM-DD.")
    result = await blocking(app.actions.run, request.state.tenant, "GENERATE", [fields], "Generate Invoices")
    return render(request, "outcome.html", result=result, back="/batches", back_label="List Batches")


@page()
async def resync_batch(request: Request):
    """Step 3 of Generate Invoices for online AR/GL systems: sync the batch (again)."""
    app, tenant, batch = request.app.state.console, request.state.tenant, request.path_params["batch"]
    if not await blocking(q.invoices, app.engine, tenant, None, None, batch):
        return render(request, "refused.html", status_code=404, message=f"Your agency has no batch {batch}.")
    result = await blocking(app.actions.request, tenant, "RESYNC", {"batch_id": batch}, f"Sync batch {batch}",
                            "The AR/GL connectors send its documents; their answers show on each invoice.")
    return render(request, "outcome.html", result=result, back="/batches", back_label="List Batches")


def _filters(params) -> dict:
    return {k: (params.get(k) or "").strip() or None for k in ("status", "account", "batch", "period", "number")}


@page()
async def invoices(request: Request):
    app, tenant = request.app.state.console, request.state.tenant
    f = _filters(request.query_params)
    error = None
    if f["status"] and f["status"].upper() not in STATUSES:
        f["status"], error = None, "Unknown status: showing every status."
    try:
        period = dt.date.fromisoformat(f["period"]) if f["period"] else None
    except ValueError:
        period, error = None, "The period end is a date (YYYY-MM-DD)."
    found = await blocking(q.invoices, app.engine, tenant, f["status"], f["account"], f["batch"], period)
    if f["number"]:
        found = [i for i in found if i["number"] == f["number"]]
    accounts = sorted({(i["account_id"], i["account_name"]) for i in await blocking(q.invoices, app.engine, tenant)},
                      key=lambda a: a[1] or "")
    return render(request, "invoices.html", invoices=found, f=f, statuses=STATUSES, accounts=accounts, error=error,
                  templates=app_templates(app))


def app_templates(app) -> dict[str, list[str]]:
    """Template names per document kind (the Record & Present picklist), loaded once."""
    if app.templates is None:
        from documents.registry import TemplateKind, TemplateRegistry
        from documents.settings import DocumentSettings

        registry = TemplateRegistry.load(DocumentSettings().template_dir)
        app.templates = {"INVOICE": registry.names(TemplateKind.INVOICE),
                         "CREDIT_MEMO": registry.names(TemplateKind.CREDIT_MEMO)}
    return app.templates


@page()
async def bulk(request: Request):
    """Several invoices at once: each number resolved within the session's tenant first."""
    app, form, tenant = request.app.state.console, request.state.form, request.state.tenant
    action = BULK.get(form.get("action") or "")
    numbers = [n for n in form.getlist("number") if n]
    if action is None or not numbers:
        return render(request, "refused.html", status_code=400, message="Select one or more invoices and an action.")
    items, unknown = [], []
    for number in numbers:
        try:
            invoice_id = await blocking(q.resolve_invoice, app.engine, tenant, number)
        except q.LookupRefused:
            unknown.append(number)
            continue
        item = {"invoice_id": invoice_id, "_label": f"{action[1]} {number}"}
        if action[0] == "RECORD" and form.get("template"):
            item["template"] = form.get("template")
        items.append(item)
    if unknown:
        return render(request, "refused.html", status_code=404,
                      message=f"No invoice of your agency has the number(s) {', '.join(unknown)}.")
    result = await blocking(app.actions.run, tenant, action[0], items, action[1])
    return render(request, "outcome.html", result=result, back="/invoices", back_label="Invoices")
