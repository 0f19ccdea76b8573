"""The documents service the worker uses, built once per process from DocumentSettings."""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from backoffice.ledger import PlacementLedger
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


def report_inputs(invoice: Invoice, ledger_of: Callable[[str], PlacementLedger | None]
                  ) -> tuple[list[Placement], list[TimesheetApproval], list[str]]:
    """The placements and approved timesheets behind an invoice's timesheet lines, for its
    timesheet report: (placements, approvals, placement keys whose ledger was not found)."""
    weeks: dict[str, set] = {}
    for line in invoice.lines:
        if line.category is LineCategory.TIMESHEETS and line.work_date is not None:
            weeks.setdefault(line.placement_id, set()).add(line.work_date)
    placements, approvals, missing = [], [], []
    for placement_id, dates in sorted(weeks.items()):
        key = f"{invoice.tenant_id}:{placement_id}"
        ledger = ledger_of(key)
        if ledger is None or ledger.placement is None:
            missing.append(key)
            continue
        placements.append(ledger.placement)
        approvals += [a for a in ledger.timesheets.values() if a.week_ending in dates]
    return placements, approvals, missing
