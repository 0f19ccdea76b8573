"""Every figure a document shows, computed once (issue 13: one figure everywhere).

The PDF, the timesheet report, the e-mail, the Xero and QuickBooks bodies, the IIF and
CSV exports, the ops API and List Batches all read these figures; none of them multiplies,
rounds or splits money itself.

Rules
- Line amount: quantity x rate, half-up to the cent (backoffice.money.line_amount), once.
- Priced form (what a document prints and a vendor receives as quantity and unit price):
  the line's own quantity and rate when they multiply back to its amount, else 1 x amount
  (e.g. a re-approval adjustment whose hours did not change but whose rate did). So no
  output ever shows a quantity and rate whose product differs from the amount it shows.
- Printed rate: two decimals, or every decimal it has when it has more (27.3333).
- Tax share: the document's tax (rounded once per document, backoffice.tax) split over its
  taxable lines in proportion to their amounts by the largest-remainder method: every line
  gets its exact share rounded down to the cent, then the cents left over go one each to the
  lines with the largest remainders, ties to the earlier line. Tax on a zero taxable base
  (possible only on hand-built or old documents) is split equally over the taxable lines, or
  over all lines when none is taxable, so the shares always add up to the document's tax.
- Credit memo allocation: per credited invoice (in the order its lines first name it), the
  sum of its lines' totals (amount + tax share), as a positive amount. Unlinked lines stay
  unallocated credit.
"""
from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from decimal import ROUND_HALF_UP, Decimal

from backoffice.errors import CreditExceedsOpenAmount, UnrepresentableLine
from backoffice.model import (
    CreditAllocation, DocumentKind, Invoice, InvoiceLine, LineCategory, PayCode, Placement, TimesheetApproval,
)
from backoffice.money import CENT, ZERO, line_amount, round_cents
from backoffice.periods import days_billed
from backoffice.tax import invoice_totals

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class LineFigures:
    quantity: Decimal       # priced quantity (printed and sent)
    rate: Decimal           # priced unit rate (printed at full precision and sent)
    amount: Decimal
    tax: Decimal            # this line's share of the document's tax
    total: Decimal          # amount + tax


@dataclass(frozen=True, slots=True)
class DocumentFigures:
    lines: tuple[LineFigures, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    allocations: tuple[CreditAllocation, ...] = ()


# -- lines ------------------------------------------------------------------------------------

def priced_form(quantity: Decimal, rate: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """The (quantity, rate) a document prints: the line's own when they give its amount, else 1 x amount."""
    if line_amount(quantity, rate) == amount:
        return quantity, rate
    return ONE, amount


def rate_places(rate: Decimal) -> int:
    """Decimals a rate prints with: 2, or all it has when it has more (27.3333 -> 4)."""
    exponent = rate.normalize().as_tuple().exponent
    return max(2, -exponent) if isinstance(exponent, int) else 2


def allocate_tax(amounts: Sequence[Decimal], taxable: Sequence[bool], tax: Decimal) -> list[Decimal]:
    """`tax` split over the taxable lines by the largest-remainder method (see module doc)."""
    count = len(amounts)
    shares = [ZERO] * count
    if count == 0 or tax == 0:
        return shares
    bearers = [i for i in range(count) if taxable[i]] or list(range(count))
    weights = {i: _cents(amounts[i]) for i in bearers}
    base = sum(weights.values())
    if base == 0:
        weights, base = {i: 1 for i in bearers}, len(bearers)
    cents = _cents(tax)
    sign = 1 if base > 0 else -1                # exact share i = cents * weight_i / base, as n_i / divisor
    divisor = base * sign
    numerators = {i: cents * weights[i] * sign for i in bearers}
    floors = {i: numerators[i] // divisor for i in bearers}
    remainders = {i: numerators[i] - floors[i] * divisor for i in bearers}
    leftover = cents - sum(floors.values())
    for i in sorted(bearers, key=lambda i: (-remainders[i], i))[:leftover]:
        floors[i] += 1
    for i in bearers:
        shares[i] = Decimal(floors[i]) * CENT
    return shares


def _cents(value: Decimal) -> int:
    return int(round_cents(value).scaleb(2))


#: InvoiceLine's fields before its four figures (which are its last four): `price_lines` builds
#: each priced line from them positionally, about four times faster than dataclasses.replace,
#: which was two thirds of generating a 100k-line window (bench/domain.py)
_FIGURE_FIELDS = ("priced_quantity", "priced_rate", "tax_share", "line_total")
_LINE_NAMES = tuple(f.name for f in fields(InvoiceLine))
assert _LINE_NAMES[-4:] == _FIGURE_FIELDS, "InvoiceLine's figures must stay its last fields"
_LINE_HEAD = operator.attrgetter(*_LINE_NAMES[:-4])


def price_lines(lines: Sequence[InvoiceLine], tax: Decimal) -> tuple[InvoiceLine, ...]:
    """The lines with their priced form, tax share and total filled in."""
    shares = allocate_tax([ln.amount for ln in lines], [ln.taxable for ln in lines], tax)
    out = []
    for line, share in zip(lines, shares, strict=True):
        quantity, rate = priced_form(line.quantity, line.rate, line.amount)
        out.append(InvoiceLine(*_LINE_HEAD(line), quantity, rate, share, line.amount + share))
    return tuple(out)


def allocations_of(kind: DocumentKind, lines: Sequence[InvoiceLine]) -> tuple[CreditAllocation, ...]:
    """A credit memo's allocation against each invoice it credits (positive amounts)."""
    if kind is not DocumentKind.CREDIT_MEMO:
        return ()
    groups: dict[str, Decimal] = {}
    for line in lines:
        if line.credited_invoice_id:
            groups[line.credited_invoice_id] = groups.get(line.credited_invoice_id, ZERO) + line.line_total
    return tuple(CreditAllocation(invoice_id, -amount) for invoice_id, amount in groups.items() if amount)


def settle(invoice: Invoice) -> Invoice:
    """The document with every figure computed from its lines and tax rate (after any line change)."""
    subtotal, tax, total = invoice_totals(invoice.lines, invoice.tax_rate)
    return _with_figures(invoice, subtotal, tax, total)


def _with_figures(invoice: Invoice, subtotal: Decimal, tax: Decimal, total: Decimal) -> Invoice:
    lines = price_lines(invoice.lines, tax)
    return replace(invoice, lines=lines, subtotal=subtotal, tax=tax, total=total,
                   allocations=allocations_of(invoice.kind, lines))


def complete(invoice: Invoice) -> Invoice:
    """A document whose figures did not travel with it (an event written before issue 13, a
    hand-built one): its stored subtotal, tax and total kept, the line figures derived from them."""
    if _is_complete(invoice):
        return invoice
    return _with_figures(invoice, invoice.subtotal, invoice.tax, invoice.total)


def _is_complete(invoice: Invoice) -> bool:
    """Every figure present and the line shares adding up to the stated tax (a document edited
    with dataclasses.replace without settle() is not trusted)."""
    lines = invoice.lines
    if not all(ln.tax_share is not None and ln.line_total is not None and ln.priced_quantity is not None
               and ln.priced_rate is not None for ln in lines):
        return False
    if lines and sum((ln.tax_share for ln in lines), ZERO) != invoice.tax:
        return False
    return invoice.allocations == allocations_of(invoice.kind, lines)


def figures_of(invoice: Invoice) -> DocumentFigures:
    """What every output prints or sends for this document."""
    doc = complete(invoice)
    lines = tuple(LineFigures(ln.priced_quantity, ln.priced_rate, ln.amount, ln.tax_share, ln.line_total)
                  for ln in doc.lines)
    return DocumentFigures(lines, doc.subtotal, doc.tax, doc.total, doc.allocations)


def negated(figures: DocumentFigures) -> DocumentFigures:
    """The same document in a vendor's credit-note convention (positive amounts)."""
    lines = tuple(LineFigures(ln.quantity, -ln.rate, -ln.amount, -ln.tax, -ln.total) for ln in figures.lines)
    return DocumentFigures(lines, -figures.subtotal, -figures.tax, -figures.total, figures.allocations)


def printed_figures(invoice: Invoice) -> DocumentFigures:
    """What a document (PDF, e-mail) prints: credit memos always read as negative amounts, even
    one stored with positive amounts."""
    figures = figures_of(invoice)
    if invoice.kind is DocumentKind.CREDIT_MEMO and figures.total > 0:
        return negated(figures)
    return figures


def other_side(figures: DocumentFigures) -> DocumentFigures:
    """The same figures as the opposite side of a double entry (IIF splits): quantities and
    amounts negated, rates kept, so quantity x rate is still the amount."""
    lines = tuple(LineFigures(-ln.quantity, ln.rate, -ln.amount, -ln.tax, -ln.total) for ln in figures.lines)
    return DocumentFigures(lines, -figures.subtotal, -figures.tax, -figures.total, figures.allocations)


def percent(rate: Decimal) -> Decimal:
    """A tax rate as a percentage (0.0625 -> 6.25)."""
    return (rate * 100).normalize()


# -- the vendor edge ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class VendorPrecision:
    """How a vendor stores a line: decimals of quantity and unit price, and how it rounds
    quantity x unit price to the line amount."""

    name: str
    quantity_places: int
    unit_places: int
    rounding: str = ROUND_HALF_UP


#: Xero with `unitdp=4` on every write and read (4-decimal UnitAmount and Quantity).
XERO = VendorPrecision("Xero", 4, 4)
#: QuickBooks Online: Qty and UnitPrice to 5 decimals; Amount must equal Qty x UnitPrice.
QUICKBOOKS = VendorPrecision("QuickBooks", 5, 5)


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def vendor_figures(invoice: Invoice, precision: VendorPrecision, *, credit_positive: bool = True) -> DocumentFigures:
    """The figures a vendor receives, refused (UnrepresentableLine) when a line's quantity or
    unit price does not fit the vendor's decimals or the vendor's own quantity x unit price would
    not land on our amount. Credit memos are sent positive when `credit_positive`."""
    figures = figures_of(invoice)
    if credit_positive and invoice.kind is DocumentKind.CREDIT_MEMO:
        figures = negated(figures)
    figures = replace(figures, lines=tuple(                 # vendors count quantities up: the sign goes on the price
        LineFigures(-ln.quantity, -ln.rate, ln.amount, ln.tax, ln.total) if ln.quantity < 0 else ln
        for ln in figures.lines))
    for index, (line, fig) in enumerate(zip(invoice.lines, figures.lines, strict=True)):
        if _places(fig.quantity) > precision.quantity_places or _places(fig.rate) > precision.unit_places:
            raise UnrepresentableLine(
                f"{invoice.number or invoice.invoice_id} line {index + 1} ({line.line_id}): {fig.quantity} x {fig.rate} "
                f"needs more than {precision.name}'s {precision.quantity_places}-decimal quantity and "
                f"{precision.unit_places}-decimal unit price")
        theirs = (fig.quantity * fig.rate).quantize(CENT, rounding=precision.rounding)
        if theirs != fig.amount:
            raise UnrepresentableLine(
                f"{invoice.number or invoice.invoice_id} line {index + 1} ({line.line_id}): {precision.name} computes "
                f"{fig.quantity} x {fig.rate} = {theirs}, not our {fig.amount}")
    return figures


def parse_cents(value: object) -> Decimal:
    """An amount a vendor answered (a JSON number or string), to the cent."""
    return round_cents(Decimal(str(value)))


def vendor_total(invoice: Invoice, *, credit_positive: bool = True) -> Decimal:
    """The document total as a vendor books it (credit notes positive)."""
    total = figures_of(invoice).total
    return -total if credit_positive and invoice.kind is DocumentKind.CREDIT_MEMO else total


# -- credit allocations against what is still open -------------------------------------------------

def open_amount(original: Invoice, memos: Iterable[Invoice]) -> Decimal:
    """What is left of `original` after the allocations of `memos` (other credit memos) to it."""
    allocated = sum((a.amount for memo in memos for a in figures_of(memo).allocations
                     if a.invoice_id == original.invoice_id), ZERO)
    return figures_of(original).total - allocated


def check_allocations(memo: Invoice, originals: Mapping[str, Invoice], other_memos: Iterable[Invoice]) -> None:
    """Refuse (CreditExceedsOpenAmount) a memo that allocates more to an invoice than is open on it.
    Originals not given are not checked (their amount is not known here)."""
    others = [m for m in other_memos if m.invoice_id != memo.invoice_id]
    for allocation in figures_of(memo).allocations:
        original = originals.get(allocation.invoice_id)
        if original is None:
            continue
        left = open_amount(original, others)
        if allocation.amount > left:
            raise CreditExceedsOpenAmount(
                f"credit memo {memo.number or memo.invoice_id} allocates {allocation.amount} {memo.currency} to "
                f"invoice {original.number or original.invoice_id}, whose open amount is {left}")


# -- batches --------------------------------------------------------------------------------------

def category_amounts(items: Iterable[InvoiceLine | object]) -> dict[LineCategory, Decimal]:
    """List Batches' two amounts (Timesheets, Products & Services) over invoice or pay lines."""
    totals = {LineCategory.TIMESHEETS: ZERO, LineCategory.PRODUCTS_SERVICES: ZERO}
    for item in items:
        totals[item.category] += item.amount        # type: ignore[attr-defined]
    return totals


def batch_amounts(invoices: Iterable[Invoice]) -> dict[LineCategory, Decimal]:
    return category_amounts(line for inv in invoices for line in inv.lines)


# -- the timesheet report -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReportDay:
    work_date: dt.date
    pay_code: str
    hours: Decimal


@dataclass(frozen=True, slots=True)
class ReportCode:
    """One pay code of a week: its hours, the rate and the amount the invoice line carries."""

    pay_code: str
    hours: Decimal
    rate: Decimal | None
    amount: Decimal | None      # None: no line of this invoice bills these hours


@dataclass(frozen=True, slots=True)
class ReportSection:
    placement: Placement
    approval: TimesheetApproval
    days: tuple[ReportDay, ...]
    codes: tuple[ReportCode, ...]
    total_hours: Decimal
    total_amount: Decimal


_CODE_ORDER = {code.value: i for i, code in enumerate(PayCode)}


def _code(value: object) -> str:
    return str(value.value if isinstance(value, PayCode) else value)


def latest_approvals(approvals: Iterable[TimesheetApproval]) -> list[TimesheetApproval]:
    """A higher version replaces an earlier approval of the same timesheet."""
    latest: dict[tuple[str, str], TimesheetApproval] = {}
    for approval in approvals:
        key = (approval.placement_id, approval.timesheet_id)
        if key not in latest or approval.version > latest[key].version:
            latest[key] = approval
    return sorted(latest.values(), key=lambda a: (a.placement_id, a.week_ending, a.timesheet_id))


def timesheet_report(placements: Sequence[Placement], approvals: Iterable[TimesheetApproval],
                     invoice: Invoice) -> list[ReportSection]:
    """Per placement and approved week: the hours of the days this invoice bills, day by day, and
    per pay code the amount of the invoice lines that bill them, never hours x rate per day.

    A line bills the days work_start..work_date of its week (backoffice.periods.days_billed): a
    week split at a period end shows each period's days on that period's invoice only, and a
    week none of whose days the invoice bills is left out."""
    by_id = {p.placement_id: p for p in placements}
    sections = []
    for approval in latest_approvals(approvals):
        placement = by_id.get(approval.placement_id)
        if placement is None:
            raise ValueError(f"approval {approval.timesheet_id} is for placement {approval.placement_id}, not given")
        week_start = approval.week_ending - dt.timedelta(days=6)
        on_invoice = [ln for ln in invoice.lines if ln.placement_id == approval.placement_id
                      and ln.category is LineCategory.TIMESHEETS and ln.work_date is not None
                      and week_start <= ln.work_date <= approval.week_ending]
        spans = [days_billed(ln.work_start, ln.work_date) for ln in on_invoice]
        entries = sorted((e for e in approval.entries if any(a <= e.work_date <= b for a, b in spans)),
                         key=lambda e: (e.work_date, _CODE_ORDER.get(_code(e.pay_code), 99)))
        if not entries:
            continue
        days = tuple(ReportDay(e.work_date, _code(e.pay_code), e.hours) for e in entries)
        codes = []
        for code in sorted({d.pay_code for d in days}, key=lambda c: _CODE_ORDER.get(c, 99)):
            hours = sum((d.hours for d in days if d.pay_code == code), ZERO)
            billed = [ln for ln in on_invoice if ln.pay_code == code]
            amount = sum((ln.amount for ln in billed), ZERO) if billed else None
            rate = billed[0].rate if len(billed) == 1 else (
                placement.bill_rate(PayCode(code)) if code in _CODE_ORDER else None)
            if rate is not None and amount is not None and line_amount(hours, rate) != amount:
                rate = None             # never print a rate the hours and amount do not agree with
            codes.append(ReportCode(code, hours, rate, amount))
        sections.append(ReportSection(
            placement, approval, days, tuple(codes), sum((d.hours for d in days), ZERO),
            sum((c.amount for c in codes if c.amount is not None), ZERO)))
    return sections
