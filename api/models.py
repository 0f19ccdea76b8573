"""Request bodies and answers of the ops API (pydantic v2): FastAPI validates with them and derives
the OpenAPI document from them."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9:|._\-]+$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SnoozeBody(_Body):
    pay_line_id: str = Field(min_length=3, max_length=300, pattern=r"^[^|: ]+:[^| ]+\|.+$",
                             description="tenant:placement|... as shown in List Batches")
    reason: str | None = Field(default=None, max_length=255)


class UnsnoozeBody(_Body):
    pay_line_id: str = Field(min_length=3, max_length=300, pattern=r"^[^|: ]+:[^| ]+\|.+$")


class GenerateBody(_Body):
    account_id: str | None = Field(default=None, min_length=1, max_length=200)
    first_number: int | None = Field(default=None, ge=1, le=10**12)
    as_of: dt.date | None = None


class RecordBody(_Body):
    invoice_ids: list[str] = Field(min_length=1, max_length=500)
    template: str | None = Field(default=None, min_length=1, max_length=100)


Email = Annotated[str, Field(pattern=r"^[^@ ]+@[^@ ]+\.[^@ ]+$", max_length=254)]


class SendBody(_Body):
    invoice_ids: list[str] = Field(min_length=1, max_length=500)
    recipients: list[Email] = Field(default_factory=list, max_length=20)
    resend: bool = False        # email again even though it already went out


class ResyncBody(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["invoice_id"], "not": {"required": ["batch_id"]}},
                  {"required": ["batch_id"], "not": {"required": ["invoice_id"]}}]})
    invoice_id: str = Field(default=None, min_length=1, max_length=200)     # absent, never null: see oneOf
    batch_id: str = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one(self):
        if (self.invoice_id is None) == (self.batch_id is None):
            raise ValueError("invoice_id: give exactly one of invoice_id and batch_id")
        return self


class SetupBody(_Body):
    """Invoice Setup (seed 003); a field left out keeps the tenant's current value. The worker
    validates the values (an unknown zone is a refused outcome naming it)."""
    time_zone: str | None = Field(default=None, min_length=1, max_length=64, description="IANA zone")
    week_ending_day: Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"] | None = None
    invoice_delay_days: int | None = Field(default=None, ge=0, le=27)
    preferred_start_time: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM")
    cycles: list[Literal["WEEKLY", "SEMI_MONTHLY", "MONTHLY"]] | None = Field(default=None, min_length=1, max_length=3)


COMMAND_BODIES: dict[str, type[_Body]] = {
    "snooze": SnoozeBody, "unsnooze": UnsnoozeBody, "generate": GenerateBody, "record": RecordBody,
    "send": SendBody, "resync": ResyncBody, "setup": SetupBody,
}


class Error(BaseModel):
    error: str
    field: str | None = None


class CommandAccepted(BaseModel):
    command_ids: list[str]
    outcomes: dict[str, dict | None] = Field(default_factory=dict, description="with ?wait: each command's "
                                             "outcome (null when none arrived in time)")
    read_model: str | None = Field(default=None, description="with ?wait: 'caught up' once the read model shows "
                                   "the outcomes (read your writes), else why not")


Complete = Field(default="complete", description="Answers come from the read model, which holds every "
                 "partition: always complete")


class AccountPending(BaseModel):
    account_id: str | None = Field(description="Billto account; null for lines whose Billto cannot be resolved")
    account_name: str
    currency: str | None
    timesheets: str = Field(description="Amount: Timesheets")
    products_services: str = Field(description="Amount: Products & Services")
    pay_lines: int


class PendingAmounts(BaseModel):
    timesheets: str
    products_services: str
    pay_lines: int
    accounts: list[AccountPending] = Field(default_factory=list, description="The Pending list per account (seed 000)")


class BatchRow(BaseModel):
    batch_id: str
    created_at: str
    period_start: str | None
    period_end: str | None
    invoice_count: int
    credit_memo_count: int
    first_number: str | None
    last_number: str | None
    amount_timesheets: str
    amount_products_services: str
    sync_status: dict[str, int]


class BatchList(BaseModel):
    tenant_id: str
    pending: PendingAmounts
    batches: list[BatchRow]
    coverage: Literal["complete"] = Complete


class InvoiceSummary(BaseModel):
    invoice_id: str
    number: str | None
    kind: Literal["INVOICE", "CREDIT_MEMO"]
    status: str
    account_name: str
    total: str
    sync_status: str | None


class BatchInvoices(BaseModel):
    tenant_id: str
    batch_id: str
    invoices: list[InvoiceSummary]


class InvoiceDetail(BaseModel):
    invoice_id: str
    tenant_id: str
    number: str | None
    kind: str
    status: str
    account_id: str
    account_name: str
    currency: str
    subtotal: str
    tax: str
    total: str
    issue_date: str | None
    due_date: str | None
    batch_id: str
    lines: list[dict]
    allocations: list[dict] = []
    history: list[dict]
    document_uris: list[str]
    error: str | None = None
    sync: dict | None = Field(description="the newest AR/GL sync outcome (any system)")
    syncs: list[dict] = Field(default_factory=list, description="the newest outcome per AR/GL system")


class HealthFinding(BaseModel):
    severity: str
    code: str
    message: str
    ref: str


class TenantHealth(BaseModel):
    tenant_id: str
    ok: bool
    findings: list[HealthFinding]
    checked_at: str | None = Field(description="when the worker last ran the health check for this tenant "
                                   "(a generate, close-window or consolidate); null if never")
    command_id: str | None = Field(description="the command whose health check this is")
    coverage: Literal["complete"] = Complete


class WindowRow(BaseModel):
    window_id: str
    cycle: Literal["WEEKLY", "SEMI_MONTHLY", "MONTHLY"]
    status: Literal["SCHEDULED", "IN_PROGRESS", "BLOCKED", "CLOSED", "REFUSED"]
    period_start: str | None
    period_end: str
    run_at: str | None = Field(description="SCHEDULED: when the scheduler closes it")
    reason: str | None = Field(description="BLOCKED: the health check's errors, summarised")
    errors: int | None
    since: str | None = Field(description="BLOCKED: first refused by the health check")
    last_attempt: str | None
    attempts: int | None = Field(description="BLOCKED: attempts so far; retried on each scheduler cycle")
    invoice_count: int | None
    batch_id: str | None


class TenantWindows(BaseModel):
    tenant_id: str
    served_here: bool = Field(default=True, description="always true: the read model holds every tenant")
    windows: list[WindowRow]
    scheduled: str = Field(description="how the SCHEDULED rows were found: the deployment's default Invoice "
                           "Setup, or why they are left out")


class Listing(BaseModel):
    tenant_id: str
    items: list[dict] = Field(description="rows of the read model, amounts as strings")
