"""Runtime configuration: environment variables with a BACKOFFICE_ prefix, plus the
ecosystem's own KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL.

`load_settings()` turns a bad value into one readable SettingsError instead of a traceback.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """Configuration that cannot be used; the message names each bad variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKOFFICE_", extra="ignore")

    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "BACKOFFICE_KAFKA_BOOTSTRAP_SERVERS"),
        description="host:port[,host:port]; unset means start the embedded Tansu broker.")
    schema_registry_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SCHEMA_REGISTRY_URL", "BACKOFFICE_SCHEMA_REGISTRY_URL"),
        description="Confluent-compatible schema registry; unset means Avro single-object encoding.")
    broker_port: int = Field(default=0, ge=0, le=65535, description="Port of the embedded broker (0 = any free port).")
    data_dir: Path = Field(default=Path("var"), description="Where workers keep RocksDB tables and local state.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the read model "
                                     "(e.g. postgresql+psycopg://user:pw@host/db); unset means SQLite under the data dir.")
    projector_group: str = Field(default="backoffice-projector", description="Consumer group of `backoffice "
                                 "projector` (its positions live in the read model's database, not in Kafka).")
    require_postgres: bool = Field(default=False, description="Tests: a missing PostgreSQL server fails the "
                                   "PostgreSQL lane instead of skipping it (set by .ci/run).")
    require_chromium: bool = Field(default=False, description="Tests: a missing chromium / chromedriver fails the "
                                   "console's browser tests instead of skipping them (set by .ci/run).")
    table_store: str = Field(default="rocksdb://", description="Faust table store: rocksdb:// or memory://.")
    timezone: str = Field(default="UTC", description="Agency's local time zone for batch windows (IANA name).")
    week_ending_day: Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"] = Field(
        default="SUNDAY", description="Week Ending Day of the Invoice Setup screen.")
    invoice_delay_days: int = Field(default=2, ge=0, le=27, description="Invoice Delay (days) after a period ends.")
    preferred_start_time: str = Field(default="13:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                      description="Preferred Start Time (HH:MM local) of the weekly batch job.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["json", "text"] = Field(default="json", description="Log lines as JSON or as text "
                                                "(both with the event's context, both redacted).")
    orphan_grace_seconds: float = Field(default=3600, ge=0, description="How long a timesheet or fee may wait for "
                                        "its placement before it is dead-lettered as unknown placement.")
    parked_sweep_seconds: float = Field(default=60, gt=0, description="How often the ledger partitions look for "
                                        "parked events past the grace period (a tenant that never gets a window).")
    max_message_bytes: int = Field(default=32 * 1024, ge=1024, le=128 * 1024, description="Largest external "
                                   "message accepted (bytes); larger ones are dead-lettered (schemas/bounds.py).")
    max_key_bytes: int = Field(default=512, ge=16, le=4096, description="Largest message key accepted (bytes).")
    max_field_bytes: int = Field(default=1024, ge=64, le=4096, description="Largest string or bytes field of an "
                                 "external message (UTF-8 bytes): names, descriptions, ids, reasons.")
    max_array_items: int = Field(default=64, ge=1, le=1024, description="Most items in one array field "
                                 "(timesheet entries, bill rates, recipients).")
    max_dead_letter_value_bytes: int = Field(default=64 * 1024, ge=1024, le=512 * 1024, description="Original "
                                             "bytes kept in a dead letter; beyond, it is truncated and carries "
                                             "the original size and sha256.")
    max_rate: Decimal = Field(default=Decimal("100000"), gt=0, description="Highest bill rate or fee unit price.")
    max_amount: Decimal = Field(default=Decimal("100000000"), gt=0, description="Highest amount of one pay line, "
                                "fee or credit.")
    max_quantity: Decimal = Field(default=Decimal("100000"), gt=0, description="Most units of one fee.")
    date_span_days: int = Field(default=3660, ge=1, le=36600, description="Business dates (week endings, fee "
                                "dates, as-of dates, windows) must lie within this many days of the worker's today.")
    max_net_terms_days: int = Field(default=365, ge=0, le=3660, description="Longest net terms of a Billto entity.")
    max_invoice_lines: int = Field(default=250, ge=1, le=2000, description="Most lines on one invoice or credit "
                                   "memo; a bigger consolidation continues on numbered continuation documents "
                                   "(consecutive numbers, grouping key <key>#002...).")
    max_invoice_bytes: int = Field(default=384 * 1024, ge=16 * 1024, le=768 * 1024, description="Estimated bytes of "
                                   "one document with its kept approvals and placements; beyond, the consolidation "
                                   "continues on another document, so none can reach the broker's 1 MiB.")
    max_kept_approval_bytes: int = Field(default=256 * 1024, ge=32 * 1024, le=512 * 1024, description="Approved "
                                         "timesheets (Avro bytes) a placement's ledger keeps for timesheet reports; "
                                         "beyond, the oldest whose lines are all invoiced are dropped.")
    rocksdb_write_buffer_bytes: int = Field(default=4 * 1024 * 1024, ge=256 * 1024, le=256 * 1024 * 1024,
                                            description="RocksDB memtable size per table partition; "
                                            "a worker holds one database per table partition (up to 44).")
    rocksdb_max_write_buffers: int = Field(default=2, ge=2, le=8, description="Memtables per table partition "
                                           "(one being written, the rest being flushed).")
    rocksdb_block_cache_bytes: int = Field(default=8 * 1024 * 1024, ge=1024 * 1024, le=4 * 1024 ** 3, description="RocksDB "
                                           "block cache per table partition (read cache; Faust's default is 2 GiB).")
    stream_buffer_maxsize: int = Field(default=8192, ge=64, le=65536, description="Messages Faust buffers per "
                                       "agent stream before it pauses fetching (each at most BACKOFFICE_MAX_"
                                       "MESSAGE_BYTES; typical ATS events are ~300 bytes).")
    fault: str | None = Field(default=None, description="Tests only: AGENT:KIND makes that agent fail on that "
                              "kind of message (checks the failure policy; never set in production).")
    web_port: int = Field(default=6066, ge=0, le=65535, description="Worker's ops HTTP port (/healthz, /readyz, /metrics).")
    clock: str | None = Field(default=None, description="Test/demo only: a fixed ISO instant the workers use as "
                              "'now' (e.g. 2026-11-24T19:00:00Z); unset means real UTC time.")
    clock_file: Path | None = Field(default=None, description="Test/demo only: a file holding an ISO instant, re-read "
                                    "whenever it changes, so the clock of a running worker can be moved forward. "
                                    "Takes precedence over BACKOFFICE_CLOCK.")
    ops_api_url: str | None = Field(default=None, description="Where the CLI reads the ops API (e.g. "
                                    "http://api:8066); unset means http://127.0.0.1:<BACKOFFICE_API_PORT>.")
    ops_token: str | None = Field(default=None, description="Bearer token the CLI sends to the ops API "
                                  "(one of BACKOFFICE_OPS_TOKENS).")
    ops_tokens: SecretStr = Field(default=SecretStr("{}"), description="Tokens of the ops API and the console's "
                                  "first admin login: a JSON object {token: tenant id, or \"*\" for an operator of every "
                                  "tenant}.")
    console_host: str = Field(default="127.0.0.1", description="Address `backoffice console` listens on.")
    console_port: int = Field(default=8080, ge=0, le=65535, description="Port of `backoffice console` "
                              "(the clerks' web screens).")
    console_secret_key: SecretStr | None = Field(default=None, description="Key signing the console's session "
                                                 "cookies; unset means a random key per process (everyone logs in "
                                                 "again after a restart).")
    console_database_url: str | None = Field(default=None, description="SQLAlchemy URL of the console's users and "
                                             "saved Invoice Setups; unset means SQLite under the data dir "
                                             "(console.sqlite3).")
    console_secure_cookies: bool = Field(default=False, description="Send the console's session cookie only over "
                                         "HTTPS (set it behind a TLS proxy).")
    console_command_timeout: float = Field(default=60, gt=0, le=600, description="Seconds a console action waits "
                                           "for its command's outcome and for the read model to show it.")
    api_host: str = Field(default="127.0.0.1", description="Address `backoffice api` listens on.")
    api_port: int = Field(default=8066, ge=0, le=65535, description="Port of `backoffice api` (the ops API, "
                          "answered from the read model).")
    api_ready_max_lag: int = Field(default=10000, ge=0, description="`backoffice api`'s /readyz answers 503 when "
                                   "the projector is more than this many messages behind the billing topics.")
    api_max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024,
                                    description="Largest request body the ops API reads (bytes); larger is a 413.")
    api_max_json_depth: int = Field(default=16, ge=2, le=1000, description="Deepest JSON nesting the ops API "
                                    "parses; deeper is a 400 (checked before parsing).")
    token_dir: Path = Field(default=Path("var/tokens"), description="Directory of the connectors' encrypted OAuth "
                            "token files (kept 0700, files 0600).")
    token_key: SecretStr | None = Field(default=None, description="Fernet key(s) of the token files, comma-separated, "
                                        "newest first: the first encrypts, all decrypt (`backoffice rotate-token-key`).")
    reset_local_state: bool = Field(default=False, description="Start a worker even though its local state (tables, "
                                    "sent log) belongs to another broker: that state is moved aside first (.stale-<time>).")

    def limits(self):
        """The plausibility ceilings for backoffice.limits."""
        from backoffice.limits import Limits

        return Limits(max_rate=self.max_rate, max_amount=self.max_amount, max_quantity=self.max_quantity,
                      date_span_days=self.date_span_days, max_net_terms_days=self.max_net_terms_days)

    def invoice_size(self):
        """How much one document holds (backoffice.consolidation.InvoiceSize)."""
        from backoffice.consolidation import InvoiceSize

        return InvoiceSize(self.max_invoice_lines, self.max_invoice_bytes)

    def rocksdb_options(self) -> dict:
        """Faust's per-table store options (faust.stores.rocksdb.RocksDBOptions)."""
        return {"write_buffer_size": self.rocksdb_write_buffer_bytes,
                "max_write_buffer_number": self.rocksdb_max_write_buffers,
                "block_cache_size": self.rocksdb_block_cache_bytes,
                "target_file_size_base": max(self.rocksdb_write_buffer_bytes, 2 * 1024 * 1024)}

    def sizes(self):
        """The size limits for schemas.bounds."""
        from schemas.bounds import SizeLimits

        return SizeLimits(self.max_message_bytes, self.max_key_bytes, self.max_field_bytes, self.max_array_items)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        for part in value.split(","):
            host, _, port = part.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {value!r}")
        return value


def _env_name(field: str) -> str:
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"BACKOFFICE_{field.upper()}"


def load_settings(**overrides) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = _env_name(field) if field in Settings.model_fields else field
            problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def database_url(settings: Settings) -> str:
    """The read model's database: BACKOFFICE_DATABASE_URL, else SQLite under the data dir."""
    if settings.database_url:
        return settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.data_dir / 'readmodel.sqlite3').resolve()}"


def console_database_url(settings: Settings) -> str:
    """The console's own database (users, saved setups): BACKOFFICE_CONSOLE_DATABASE_URL, else SQLite."""
    if settings.console_database_url:
        return settings.console_database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(settings.data_dir / 'console.sqlite3').resolve()}"


def settings_table() -> list[tuple[str, str, str]]:
    """(env var, default, description) for every setting: the README's configuration table."""
    rows = []
    for name, info in Settings.model_fields.items():
        default = info.default
        rows.append((_env_name(name), "" if default is None else str(default), info.description or ""))
    return rows
