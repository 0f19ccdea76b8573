"""Invoices, credit memos and timesheet reports to PDF (xhtml2pdf), safely and reproducibly.

Rendering is two steps so nothing half-renders: Jinja2 builds the whole HTML
first (autoescaped, strict, sandboxed); only a complete page goes to xhtml2pdf,
and a PDF is returned only when that conversion reported no error. Every
resource the page asks for passes `LinkGuard`, which allows files of the
template's own folder and nothing else; xhtml2pdf's resource policy is set to
the same bound as a second fence. ReportLab runs in invariant mode, so the
same input gives the same bytes (and the same SHA-256) every time.
"""
from __future__ import annotations

import io
import logging
import traceback
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from reportlab import rl_config
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from backoffice.model import Contact, Invoice, LineCategory, PayCode, Placement, TimesheetApproval, TimesheetEntry
from backoffice.money import line_amount
from backoffice.periods import days_billed
from documents import formatting
from documents.assets import MAX_LOGO_BYTES, MAX_LOGO_PIXELS, logo_data_uri
from documents.profile import AgencyProfile, Party
from documents.registry import DocumentTemplate, TemplateError, TemplateKind

rl_config.invariant = 1  # fixed creation date and document ID: same input, same bytes

log = logging.getLogger(__name__)

_NOTHING = "data:text/plain;base64,"  # what a refused link is rewritten to

_LABELS = {
    "company_name": "Company", "net_terms": "Terms", "due_date": "Due Date", "invoice_period": "Invoice Period",
    "purchase_order": "PO Number", "currency": "Currency", "account_id": "Account",
    "description": "Description", "work_date": "Date", "pay_code": "Pay Code", "placement_id": "Placement",
    "quantity": "Qty", "rate": "Rate", "amount": "Amount",
    "subtotal": "Subtotal", "total_tax": "Total Tax", "total_amount": "Total Amount",
    "candidate_name": "Employee", "job_title": "Position", "week_ending": "Week Ending", "approver": "Approved By",
    "approved_at": "Approved On", "day": "Day", "hours": "Hours",
}
_NUMERIC = {"quantity", "rate", "amount", "hours"}


@dataclass
class LinkGuard:
    """xhtml2pdf link_callback: files inside the template folder only; everything else is refused."""

    folder: Path
    refused: list[str] = field(default_factory=list)

    def __call__(self, uri: str, rel: str | None = None) -> str:
        if uri.startswith("data:"):
            return uri  # inline, fetches nothing; size bounded by the resource policy
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in ("", "file") or parts.netloc not in ("", "localhost"):
            return self._refuse(uri)
        relative = urllib.parse.unquote(parts.path)
        folder = self.folder.resolve()
        target = (folder / relative.lstrip("/")).resolve() if not Path(relative).is_absolute() else Path(relative).resolve()
        if not target.is_relative_to(folder) or not target.is_file():
            return self._refuse(uri)
        return str(target)

    def _refuse(self, uri: str) -> str:
        log.warning("template link refused: %s", uri[:200])
        self.refused.append(uri)
        return _NOTHING


# -- view models: plain strings and lists, so templates only lay out -------------------------

def _party_block(party: Party, fields: Iterable[str], contact: Contact | None = None) -> list[dict[str, Any]]:
    values: dict[str, list[str]] = {
        "company_name": [party.name],
        "contact_name": [f"Attn: {contact.name}"] if contact and contact.name else [],
        "mailing_address": party.address.lines(),
        "phone": [party.phone] if party.phone else [],
        "email": [party.email] if party.email else [],
    }
    return [{"field": f, "lines": values.get(f, [])} for f in fields if values.get(f)]


def _chunks(rows: list[dict[str, str]], size: int) -> list[list[dict[str, str]]]:
    """Long tables split into tables of `size` rows: xhtml2pdf's cost grows fast with one long table."""
    return [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]


def _columns(fields: Sequence[str]) -> list[dict[str, str]]:
    return [{"key": f, "label": _LABELS.get(f, f), "align": "right" if f in _NUMERIC else "left"} for f in fields]


def invoice_context(invoice: Invoice, template: DocumentTemplate, agency: AgencyProfile) -> dict[str, Any]:
    """Everything the standard layout prints, as text. Credit memos show negative amounts."""
    credit = invoice.is_credit_memo

    def shown(amount: Decimal) -> Decimal:
        return -abs(amount) if credit else amount

    fields = template.fields
    contact = invoice.bill_to_contact
    bill_to = Party(
        name=invoice.account_name,
        address=invoice.bill_to_address or Party("").address,
        phone=contact.phone if contact else None,
        email=contact.email if contact else None,
    )
    details_values = {
        "company_name": invoice.account_name,
        "net_terms": f"Net {invoice.net_terms_days}",
        "due_date": formatting.date(invoice.due_date),
        "invoice_period": f"{formatting.short_date(invoice.period_start)} - {formatting.short_date(invoice.period_end)}",
        "purchase_order": invoice.purchase_order or "",
        "currency": invoice.currency,
        "account_id": invoice.account_id,
    }
    rows = []
    for line in invoice.lines:
        amount = shown(line.amount)
        rate = -abs(line.rate) if credit and amount else line.rate
        rows.append({
            "description": line.description,
            "work_date": formatting.short_date(line.work_date),
            "pay_code": line.pay_code or "",
            "placement_id": line.placement_id,
            "quantity": formatting.quantity(line.quantity),
            "rate": formatting.money(rate),
            "amount": formatting.money(amount),
        })
    totals_values = {
        "subtotal": shown(invoice.subtotal), "total_tax": shown(invoice.tax), "total_amount": shown(invoice.total),
    }
    return {
        "document": {
            "title": "Credit Memo" if credit else "Invoice",
            "number": invoice.number or invoice.invoice_id,
            "created": formatting.date(invoice.issue_date),
            "currency": invoice.currency,
            "is_credit_memo": credit,
        },
        "fields": fields,
        "header": _party_block(agency.company, fields["header"]),
        "bill_to": _party_block(bill_to, fields["bill_to"], contact),
        "remit_to": _party_block(agency.remit, fields["remit_to"]),
        "billing_details": [
            {"field": f, "label": _LABELS[f], "value": details_values[f]}
            for f in fields["billing_details"] if details_values[f]
        ],
        "columns": _columns(fields["line_items"]),
        "tables": _chunks(rows, template.rows_per_table),
        "totals": [
            {"field": f, "label": _LABELS[f], "value": formatting.money(totals_values[f]), "grand": f == "total_amount"}
            for f in fields["totals"]
        ],
        **_common(template, agency),
    }


def _common(template: DocumentTemplate, agency: AgencyProfile) -> dict[str, Any]:
    if agency.logo is not None:
        logo: str | None = logo_data_uri(agency.logo)
    else:
        logo = template.logo
    return {
        "logo": logo,
        "agency": agency.company.name,
        "message": template.message,
        "footer_left": template.footer_left,
        "footer_right": template.footer_right,
        "stylesheet": template.css,
    }


_DAY = {0: "Mon", 1: "Tue", 2: "Wed", 3: "Thu", 4: "Fri", 5: "Sat", 6: "Sun"}
_PAY_CODE_ORDER = {code.value: i for i, code in enumerate(PayCode)}


def _days_on_invoice(approval: TimesheetApproval, invoice: Invoice) -> list[TimesheetEntry]:
    """The approval's entries on days this invoice's timesheet lines bill: a week split at a
    period end shows each period's days on that period's invoice only."""
    spans = [days_billed(line.work_start, line.work_date) for line in invoice.lines
             if line.placement_id == approval.placement_id and line.category is LineCategory.TIMESHEETS
             and line.work_date is not None]
    return [e for e in approval.entries if any(first <= e.work_date <= last for first, last in spans)]


def timesheet_context(
    placements: Sequence[Placement],
    approvals: Sequence[TimesheetApproval],
    invoice: Invoice,
    template: DocumentTemplate,
    agency: AgencyProfile,
) -> dict[str, Any]:
    """One section per temp placement and approved week: entries by day and pay code, hours x bill rate."""
    by_id = {p.placement_id: p for p in placements}
    sections = []
    latest: dict[tuple[str, str], TimesheetApproval] = {}
    for approval in approvals:  # a higher version replaces an earlier approval
        key = (approval.placement_id, approval.timesheet_id)
        if key not in latest or approval.version > latest[key].version:
            latest[key] = approval
    for approval in sorted(latest.values(), key=lambda a: (a.placement_id, a.week_ending, a.timesheet_id)):
        placement = by_id.get(approval.placement_id)
        if placement is None:
            raise ValueError(f"approval {approval.timesheet_id} is for placement {approval.placement_id}, not given")
        entries = _days_on_invoice(approval, invoice)
        if not entries:
            continue
        rows, hours_total, amount_total = [], Decimal("0"), Decimal("0.00")
        for entry in sorted(entries, key=lambda e: (e.work_date, _PAY_CODE_ORDER.get(e.pay_code, 99))):
            rate = placement.bill_rate(entry.pay_code)
            amount = line_amount(entry.hours, rate) if rate is not None else None
            hours_total += entry.hours
            amount_total += amount or Decimal("0")
            rows.append({
                "work_date": formatting.short_date(entry.work_date),
                "day": _DAY[entry.work_date.weekday()],
                "pay_code": str(entry.pay_code.value if isinstance(entry.pay_code, PayCode) else entry.pay_code),
                "hours": formatting.quantity(entry.hours),
                "rate": formatting.money(rate) if rate is not None else "n/a",
                "amount": formatting.money(amount) if amount is not None else "n/a",
            })
        info = {
            "candidate_name": placement.candidate_name,
            "job_title": placement.job_title,
            "placement_id": placement.placement_id,
            "week_ending": formatting.date(approval.week_ending),
            "approver": approval.approver or "",
            "approved_at": formatting.date(approval.approved_at.date()),
        }
        sections.append({
            "placement": [
                {"field": f, "label": _LABELS[f], "value": info[f]} for f in template.fields["placement"] if info[f]
            ],
            "rows": rows,
            "total_hours": formatting.quantity(hours_total),
            "total_amount": formatting.money(amount_total),
        })
    return {
        "document": {
            "title": "Timesheet Report",
            "number": invoice.number or invoice.invoice_id,
            "created": formatting.date(invoice.issue_date),
            "account": invoice.account_name,
            "period": f"{formatting.short_date(invoice.period_start)} - {formatting.short_date(invoice.period_end)}",
        },
        "fields": template.fields,
        "header": _party_block(agency.company, template.fields["header"]),
        "columns": _columns(template.fields["entries"]),
        "sections": sections,
        **_common(template, agency),
    }


# -- HTML, then PDF -------------------------------------------------------------------------

def _template_line(exc: BaseException, template: DocumentTemplate) -> tuple[int | None, str | None]:
    """The template file and line a Jinja runtime error happened on (Jinja rewrites tracebacks)."""
    folder = str(template.folder)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".html") or frame.filename.startswith(folder):
            return frame.lineno, Path(frame.filename).name
    return None, None


def render_html(template: DocumentTemplate, context: dict[str, Any]) -> str:
    try:
        return template.jinja.render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(template.name, exc.lineno, exc.message or "syntax error", exc.name) from exc
    except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
        line, file = _template_line(exc, template)
        raise TemplateError(template.name, line, f"{type(exc).__name__}: {exc}", file) from exc


def html_to_pdf(html: str, template: DocumentTemplate) -> bytes:
    """Convert a complete page; any conversion error raises TemplateError and no bytes are returned."""
    guard = LinkGuard(template.folder)
    policy = ResourceAccessPolicy(
        allow_remote=False,
        base_dir=template.folder,
        max_local_bytes=4 * MAX_LOGO_BYTES,
        max_image_pixels=MAX_LOGO_PIXELS,
    )
    out = io.BytesIO()
    try:
        status = pisa.pisaDocument(
            html, dest=out, path=str(template.folder / template.html), link_callback=guard,
            resource_policy=policy, encoding="utf-8",
        )
    except Exception as exc:
        raise TemplateError(template.name, None, f"PDF conversion failed: {type(exc).__name__}: {exc}") from exc
    if status.err:
        mode, line, message, *_ = next((e for e in status.log if e[0] == "error"), ("error", None, "unknown", None))
        raise TemplateError(template.name, line, f"PDF conversion failed: {message}", template.html)
    return out.getvalue()


def render_document(invoice: Invoice, template: DocumentTemplate, agency: AgencyProfile) -> bytes:
    """The invoice or credit memo PDF. Pure: this is also the preview (nothing is stored or changed)."""
    if template.kind is TemplateKind.TIMESHEET_REPORT:
        raise TemplateError(template.name, None, "is a timesheet report template, not an invoice template")
    return html_to_pdf(render_html(template, invoice_context(invoice, template, agency)), template)


preview = render_document


def render_timesheet_report(
    placements: Placement | Sequence[Placement],
    approvals: Sequence[TimesheetApproval],
    invoice: Invoice,
    *,
    template: DocumentTemplate,
    agency: AgencyProfile,
) -> bytes:
    if isinstance(placements, Placement):
        placements = [placements]
    if template.kind is not TemplateKind.TIMESHEET_REPORT:
        raise TemplateError(template.name, None, f"is a {template.kind.value} template, not a timesheet report")
    context = timesheet_context(placements, approvals, invoice, template, agency)
    return html_to_pdf(render_html(template, context), template)

