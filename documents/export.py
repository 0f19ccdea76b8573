"""Write the PDFs of generated batches to a folder (used by `make demo` and `backoffice render`)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from backoffice.model import Invoice, Placement, PlacementType, TimesheetApproval
from documents.profile import AgencyProfile
from documents.registry import TemplateRegistry
from documents.render import render_document, render_timesheet_report

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "document"


def write_batch_pdfs(
    invoices: Iterable[Invoice],
    out_dir: Path | str,
    *,
    registry: TemplateRegistry,
    agencies: Mapping[str, AgencyProfile],
    placements: Sequence[Placement] = (),
    approvals: Sequence[TimesheetApproval] = (),
    account_defaults: Mapping[str, str] | None = None,
) -> list[Path]:
    """out_dir/<batch>/<number>.pdf per document, plus <number>-timesheets.pdf for temp placements."""
    out = Path(out_dir)
    written: list[Path] = []
    temps = {p.placement_id: p for p in placements if p.placement_type is PlacementType.TEMP}
    for invoice in invoices:
        agency = agencies[invoice.tenant_id]
        template = registry.resolve(
            invoice, explicit=invoice.template, account_default=(account_defaults or {}).get(invoice.account_id)
        )
        folder = out / _safe(invoice.batch_id)
        folder.mkdir(parents=True, exist_ok=True)
        stem = _safe(invoice.number or invoice.invoice_id)
        path = folder / f"{stem}.pdf"
        path.write_bytes(render_document(invoice, template, agency))
        written.append(path)
        on_invoice = [temps[line.placement_id] for line in invoice.lines if line.placement_id in temps]
        ids = {p.placement_id for p in on_invoice}
        weeks = [a for a in approvals if a.placement_id in ids]
        if weeks and not invoice.is_credit_memo:
            report = folder / f"{stem}-timesheets.pdf"
            report.write_bytes(render_timesheet_report(
                list({p.placement_id: p for p in on_invoice}.values()), weeks, invoice,
                template=registry.timesheet_report(invoice.tenant_id), agency=agency,
            ))
            written.append(report)
    return written
