"""The documents service the worker uses, built once per process from DocumentSettings."""
from __future__ import annotations

import functools
from pathlib import Path

from backoffice.model import Address
from documents.delivery import DeliveryService, FileSentLog
from documents.mailer import SmtpConfig, SmtpMailer
from documents.messages import EmailTemplates
from documents.profile import AgencyProfile, Party, load_profiles
from documents.registry import TemplateRegistry
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
