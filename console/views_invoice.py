"""Invoice detail (seed 003): lines, totals, sync status per AR/GL system with Re-sync, history;
Record & Present with the templates of the document's kind and the recorded PDF shown in the
page; Email & Send to the AP contact plus additional recipients; Print & Send; Void with a
confirmation; the PDFs to download. Invoices are named by number within the session's tenant."""
from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from console.views_billing import app_templates
from console.web import blocking, page, refuse, render
from readmodel import queries as q

KINDS = ("invoice", "credit_memo", "timesheet_report")
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def _store():
    from documents.settings import DocumentSettings
    from documents.store import store_from_uri

    return store_from_uri(DocumentSettings().document_store)


def _stored(tenant: str, invoice_id: str) -> list:
    from documents.store import DocumentStoreError
    try:
        return _store().list(tenant, invoice_id)
    except DocumentStoreError:
        return []


async def _detail(request: Request) -> dict | None:
    app = request.app.state.console
    try:
        return await blocking(q.invoice_detail, app.engine, request.state.tenant, request.path_params["number"])
    except q.LookupRefused:
        return None


def _missing(request: Request) -> Response:
    return refuse(request, 404, f"Your agency has no invoice numbered {request.path_params['number']}.")


@page()
async def detail(request: Request):
    d = await _detail(request)
    if d is None:
        return _missing(request)
    stored = await blocking(_stored, request.state.tenant, d["invoice_id"])
    kinds = sorted({s.kind for s in stored})
    templates = app_templates(request.app.state.console)[d["kind"]]
    return render(request, "invoice.html", d=d, kinds=kinds, templates=templates)


@page()
async def pdf(request: Request):
    d = await _detail(request)
    if d is None:
        return _missing(request)
    kind = request.query_params.get("kind") or ("credit_memo" if d["kind"] == "CREDIT_MEMO" else "invoice")
    if kind not in KINDS:
        return refuse(request, 404, "No such document.")
    stored = [s for s in await blocking(_stored, request.state.tenant, d["invoice_id"]) if s.kind == kind]
    if not stored:
        return refuse(request, 404, f"{d['kind'].replace('_', ' ').title()} {d['number']} has no {kind.replace('_', ' ')} "
                                    f"PDF yet: Record & Present it first.")
    data = await blocking(_store().get, stored[-1].uri)
    disposition = "attachment" if request.query_params.get("download") else "inline"
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{kind}-{d["number"]}.pdf"',
        "X-Content-Type-Options": "nosniff"})


async def _act(request: Request, kind: str, label: str, **fields):
    d = await _detail(request)
    if d is None:
        return _missing(request)
    app = request.app.state.console
    result = await blocking(app.actions.run, request.state.tenant, kind, [{"invoice_id": d["invoice_id"], **fields}],
                            f"{label} {d['number']}")
    return render(request, "outcome.html", result=result, back=f"/invoices/{d['number']}",
                  back_label=f"{d['kind'].replace('_', ' ').title()} {d['number']}", number=d["number"],
                  next_steps=kind == "RECORD" and result.ok)


@page()
async def record(request: Request):
    template = request.state.form.get("template") or None
    d = await _detail(request)
    if d is not None and template and template not in app_templates(request.app.state.console)[d["kind"]]:
        return refuse(request, 400, f"Template {template} is not a {d['kind'].replace('_', ' ').lower()} template.")
    return await _act(request, "RECORD", "Record & Present", template=template)


@page()
async def send(request: Request):
    form = request.state.form
    extra = [r.strip() for r in re.split(r"[,;\s]+", form.get("recipients") or "") if r.strip()]
    bad = [r for r in extra if not EMAIL.match(r)]
    if bad:
        return refuse(request, 400, f"Not an e-mail address: {', '.join(bad)}.")
    if form.get("mode") == "print":
        return await _act(request, "PRINT_AND_SEND", "Print & Send")
    return await _act(request, "SEND", "Email & Send", recipients=extra, resend=bool(form.get("resend")))


@page()
async def void(request: Request):
    if request.state.form.get("confirm") != "yes":
        return refuse(request, 400, "Tick the box to confirm the void: a voided document cannot be used again.")
    return await _act(request, "VOID", "Void")


@page()
async def resync(request: Request):
    d = await _detail(request)
    if d is None:
        return _missing(request)
    app = request.app.state.console
    result = await blocking(app.actions.request, request.state.tenant, "RESYNC", {"invoice_id": d["invoice_id"]},
                            f"Re-sync {d['number']}", "The AR/GL connectors send it again; their answer shows in the "
                            "sync table of the invoice.")
    return render(request, "outcome.html", result=result, back=f"/invoices/{d['number']}",
                  back_label=f"{d['kind'].replace('_', ' ').title()} {d['number']}")
