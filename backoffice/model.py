"""The billing vocabulary shared by every part of the system.

Frozen, slotted dataclasses: cheap to build in the hot ingest path, hashable,
and impossible to edit by accident. State changes return new objects
(`dataclasses.replace`). Field names here are the contract that the Avro
schemas, the documents and the connectors map to; add fields with defaults,
never rename.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class EntityType(StrEnum):
    COMPANY = "COMPANY"
    CLIENT = "CLIENT"
    OFFICE = "OFFICE"


class InvoicingMode(StrEnum):
    SEMI_AUTOMATIC = "SEMI_AUTOMATIC"
    AUTOMATIC = "AUTOMATIC"
    MANUAL = "MANUAL"


class PlacementType(StrEnum):
    TEMP = "TEMP"
    PERM = "PERM"
    CONTRACT = "CONTRACT"


class BatchOption(StrEnum):
    """How an account's lines are sub-grouped into invoices (seed 003)."""

    ACCOUNT = "ACCOUNT"
    PLACEMENT = "PLACEMENT"
    PURCHASE_ORDER = "PURCHASE_ORDER"
    AP_CONTACT = "AP_CONTACT"


class BillingCycle(StrEnum):
    WEEKLY = "WEEKLY"
    SEMI_MONTHLY = "SEMI_MONTHLY"
    MONTHLY = "MONTHLY"


class PlacementStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


class PayCode(StrEnum):
    REG = "REG"
    OT = "OT"
    DT = "DT"


class FeeKind(StrEnum):
    PLACEMENT_FEE = "PLACEMENT_FEE"
    PRODUCT = "PRODUCT"
    SERVICE = "SERVICE"


class PayLineSource(StrEnum):
    """Where a pay line came from; decides its List Batches bucket."""

    TIMESHEET = "TIMESHEET"
    TIMESHEET_ADJUSTMENT = "TIMESHEET_ADJUSTMENT"
    FEE = "FEE"
    CREDIT = "CREDIT"


class LineCategory(StrEnum):
    """The two amounts of the List Batches screen (seed 000)."""

    TIMESHEETS = "TIMESHEETS"
    PRODUCTS_SERVICES = "PRODUCTS_SERVICES"


class PayLineStatus(StrEnum):
    """Seed 000: Scheduled, Pending, Snoozed, Invoiced."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    SNOOZED = "SNOOZED"
    INVOICED = "INVOICED"


class LineItemStatus(StrEnum):
    NEW = "NEW"
    RECORDED = "RECORDED"


class DocumentKind(StrEnum):
    INVOICE = "INVOICE"
    CREDIT_MEMO = "CREDIT_MEMO"


class DocumentStatus(StrEnum):
    """Invoices and credit memos: New -> Recorded -> Sent, or Void."""

    NEW = "NEW"
    RECORDED = "RECORDED"
    SENT = "SENT"
    VOID = "VOID"


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""

    def lines(self) -> list[str]:
        """Printable address lines, empty parts dropped."""
        city_line = " ".join(p for p in (self.city + ("," if self.city and self.region else ""), self.region, self.postal_code) if p)
        return [p for p in (self.line1, self.line2, city_line, self.country) if p]


@dataclass(frozen=True, slots=True)
class BilltoNode:
    """One entity of the Company -> Client -> Office hierarchy (seed 000)."""

    tenant_id: str
    entity_type: EntityType
    entity_id: str
    parent_id: str | None = None
    account_name: str | None = None
    ap_contact: Contact | None = None
    address: Address | None = None
    invoicing_mode: InvoicingMode = InvoicingMode.SEMI_AUTOMATIC
    net_terms_days: int = 30
    tax_rate: Decimal = Decimal("0")
    default_template: str | None = None
    currency: str = "USD"
    version: int = 0


@dataclass(frozen=True, slots=True)
class Placement:
    tenant_id: str
    placement_id: str
    placement_type: PlacementType
    candidate_name: str
    company_id: str
    client_id: str | None
    office_id: str | None
    batch_option: BatchOption = BatchOption.ACCOUNT
    purchase_order: str | None = None
    ap_contact_override: Contact | None = None
    billing_cycle: BillingCycle = BillingCycle.WEEKLY
    bill_rates: tuple[tuple[PayCode, Decimal], ...] = ()
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    status: PlacementStatus = PlacementStatus.ACTIVE
    version: int = 0
    job_title: str = ""

    def bill_rate(self, pay_code: PayCode) -> Decimal | None:
        for code, rate in self.bill_rates:
            if code == pay_code:
                return rate
        return None


@dataclass(frozen=True, slots=True)
class PayLine:
    """A realized fee not yet invoiced (seed 000).

    `effective_date` decides Scheduled vs Pending; `work_date` (the week
    ending for timesheets, or the last day of a week's part when a semi-monthly
    or monthly period end splits the week) decides which batch window's period
    it falls in.
    """

    tenant_id: str
    pay_line_id: str
    placement_id: str
    source: PayLineSource
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    effective_date: dt.date
    work_date: dt.date
    taxable: bool = True
    status: PayLineStatus = PayLineStatus.PENDING
    pay_code: PayCode | None = None
    timesheet_id: str | None = None
    timesheet_version: int | None = None
    fee_id: str | None = None
    fee_kind: FeeKind | None = None
    catalog_item_id: str | None = None
    credited_line_id: str | None = None
    credited_invoice_id: str | None = None
    reason: str | None = None
    invoice_id: str | None = None
    #: the first day worked in the line (timesheets); with work_date it bounds the days it bills.
    #: None: not known (lines stored before it existed, fees, credits); work_date alone then.
    work_start: dt.date | None = None

    @property
    def category(self) -> LineCategory:
        if self.source in (PayLineSource.TIMESHEET, PayLineSource.TIMESHEET_ADJUSTMENT):
            return LineCategory.TIMESHEETS
        if self.source is PayLineSource.CREDIT and self.fee_id is None and self.pay_code is not None:
            return LineCategory.TIMESHEETS
        return LineCategory.PRODUCTS_SERVICES

    @property
    def is_credit(self) -> bool:
        return self.source is PayLineSource.CREDIT


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """An invoice (or credit memo) line item, born from exactly one pay line."""

    line_id: str
    pay_line_id: str
    placement_id: str
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    taxable: bool
    category: LineCategory
    status: LineItemStatus = LineItemStatus.NEW
    pay_code: str | None = None
    work_date: dt.date | None = None
    credited_line_id: str | None = None
    credited_invoice_id: str | None = None
    #: the pay line's work_start: an invoice line bills the days work_start..work_date
    work_start: dt.date | None = None
    #: figures computed once by backoffice.figures (None on documents made before them)
    priced_quantity: Decimal | None = None
    priced_rate: Decimal | None = None
    tax_share: Decimal | None = None
    line_total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CreditAllocation:
    """How much of a credit memo (positive) goes to one invoice it credits."""

    invoice_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice or a credit memo (kind), with the Billto snapshot it was drawn for."""

    tenant_id: str
    invoice_id: str
    batch_id: str
    kind: DocumentKind
    account_id: str
    account_name: str
    grouping_key: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    tax_rate: Decimal
    issue_date: dt.date
    due_date: dt.date
    period_start: dt.date
    period_end: dt.date
    net_terms_days: int
    invoicing_mode: InvoicingMode
    number: str | None = None
    status: DocumentStatus = DocumentStatus.NEW
    bill_to_contact: Contact | None = None
    bill_to_address: Address | None = None
    purchase_order: str | None = None
    template: str | None = None
    version: int = 0
    allocations: tuple[CreditAllocation, ...] = ()

    @property
    def is_credit_memo(self) -> bool:
        return self.kind is DocumentKind.CREDIT_MEMO


@dataclass(frozen=True, slots=True)
class Batch:
    """The invoices of one generation run, with the List Batches totals."""

    tenant_id: str
    batch_id: str
    created_at: dt.datetime
    period_start: dt.date
    period_end: dt.date
    invoice_ids: tuple[str, ...] = ()
    first_number: str | None = None
    last_number: str | None = None
    amount_timesheets: Decimal = Decimal("0.00")
    amount_products_services: Decimal = Decimal("0.00")
    invoice_count: int = 0
    credit_memo_count: int = 0


@dataclass(frozen=True, slots=True)
class TimesheetEntry:
    work_date: dt.date
    pay_code: PayCode
    hours: Decimal


@dataclass(frozen=True, slots=True)
class TimesheetApproval:
    """An approved timesheet; a higher version replaces an earlier approval."""

    tenant_id: str
    event_id: str
    timesheet_id: str
    placement_id: str
    week_ending: dt.date
    entries: tuple[TimesheetEntry, ...]
    approved_at: dt.datetime
    version: int
    approver: str = ""


@dataclass(frozen=True, slots=True)
class FeeRealized:
    """A realized fee: placement fee, catalog product or service (future date = Scheduled)."""

    tenant_id: str
    event_id: str
    fee_id: str
    placement_id: str
    kind: FeeKind
    description: str
    quantity: Decimal
    unit_price: Decimal
    effective_date: dt.date
    taxable: bool = True
    catalog_item_id: str | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class CreditMemoRequest:
    """Operator's credit: from an invoiced line item (linked) or from a placement (unlinked)."""

    tenant_id: str
    request_id: str
    placement_id: str
    amount: Decimal
    reason: str
    effective_date: dt.date
    credited_line_id: str | None = None
    credited_invoice_id: str | None = None
    description: str = ""
    #: unlinked credits only (a linked one copies its line's flag); None: taxable unless PERM
    taxable: bool | None = None

