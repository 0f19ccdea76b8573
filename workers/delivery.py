"""The documents service the worker uses, built once per process from DocumentSettings."""
from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from backoffice.model import Address, Invoice, LineCategory, Placement, TimesheetApproval
from documents.delivery import DeliveryService, FileSentLog
from documents.mailer import SmtpConfig, SmtpMailer
from documents.messages import EmailTemplates
from documents.profile import AgencyProfile, Party, load_profiles
from documents.registry import TemplateError, TemplateRegistry
from documents.settings import DocumentSettings
from documents.store import store_from_uri


def _fallback_profile(tenant_id: str) -> AgencyProfile:
    """A tenant without a configured profile still gets legible documents."""
    return AgencyProfile(tenant_id, Party(f"Agency {tenant_id}", Address(), None, None))


@functools.cache
def delivery_service() -> DeliveryService:
    settings = DocumentSettings()
    profiles = load_profiles(settings.agency_profiles) if settings.agency_profiles else {}
    registry = TemplateRegistry.load(settings.template_dir)
    email_dir = Path(settings.template_dir) / "email"
    return DeliveryService(
        registry=registry, store=store_from_uri(settings.document_store),
        agencies=lambda tenant: profiles.get(tenant) or _fallback_profile(tenant),
        mailer=SmtpMailer(SmtpConfig.from_settings(settings)),
        email_templates=EmailTemplates(email_dir) if email_dir.is_dir() else None,
        sent_log=FileSentLog(settings.sent_log))


@functools.cache
def delivery_errors() -> tuple[type[BaseException], ...]:
    """What a Record/Send can fail with that must be answered, not crash the agent:
    illegal moves and bad requests (ValueError), templates, the store's disk or bucket."""
    from backoffice.lifecycle import IllegalDocumentTransition

    errors: list[type[BaseException]] = [IllegalDocumentTransition, ValueError, TemplateError, OSError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:          # no s3 extra: no S3 store either
        pass
    else:
        errors += [BotoCoreError, ClientError]
    return tuple(errors)


def report_inputs(invoice: Invoice, placements: Iterable[Placement], approvals: Iterable[bytes]
                  ) -> tuple[list[Placement], list[TimesheetApproval]]:
    """The placements and approved weeks behind an invoice's timesheet lines, for its timesheet
    report, from what its generation carried (placements, approvals as Avro bytes)."""
    from workers.ledger_logic import decode_approval

    weeks: dict[str, set] = {}
    for line in invoice.lines:
        if line.category is LineCategory.TIMESHEETS and line.work_date is not None:
            weeks.setdefault(line.placement_id, set()).add(line.work_date)
    decoded = [decode_approval(raw) for raw in approvals]
    return ([p for p in placements if p.placement_id in weeks],
            [a for a in decoded if a.week_ending in weeks.get(a.placement_id, ())])
