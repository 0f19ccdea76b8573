"""Document settings from the environment (BACKOFFICE_ prefix): store, SMTP, templates."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"


class DocumentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKOFFICE_", extra="ignore")

    #: A directory, file:///dir, or s3://bucket/prefix?endpoint_url=...&region=...
    document_store: str = "var/documents"
    template_dir: Path = TEMPLATES_DIR
    sent_log: Path = Path("var/sent-log")
    #: YAML or JSON list of agency profiles (documents.profile.AgencyProfile.from_dict), one per tenant.
    agency_profiles: Path | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "billing@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_attempts: int = Field(default=4, ge=1)
    smtp_backoff_seconds: float = Field(default=1.0, ge=0)
    smtp_backoff_max_seconds: float = Field(default=30.0, ge=0)
