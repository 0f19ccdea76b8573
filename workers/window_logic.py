"""The assembler's bookkeeping for one tenant's window, without Faust.

A window is complete when every ledger partition has sent its end marker and every
chunk it announced has arrived; only then does it generate, once.

A scheduled window the health check blocks is not closed: the tenant keeps it in its
blocked list (why, since when, how many attempts) and the scheduler sends it again, with a
fresh command id per attempt, until it passes; only then is it closed (see workers/README.md).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
import logging
from dataclasses import dataclass, field, replace
from typing import Iterable

from backoffice.billto import BilltoHierarchy
from backoffice.consolidation import DEFAULT_SIZE, InvoiceSize, line_bytes
from backoffice.errors import DomainError
from backoffice.generation import GenerationRequest, GenerationResult, generate_invoices
from backoffice.health import HealthReport
from backoffice.invoice_setup import TenantCalendar
from backoffice.model import Batch, BilltoNode, Invoice, PayLine, Placement
from backoffice.numbering import TenantSequence
from workers.messages import LinesChunk, WindowEnd, WindowRequest
from workers.sizing import BUDGET, encoded_size

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WindowState:
    request: WindowRequest
    ends: dict[int, int] = field(default_factory=dict)           # ledger partition -> chunk count
    received: frozenset[tuple[int, int]] = frozenset()
    done: bool = False
    blocked: bool = False
    invoice_count: int = 0
    batch_id: str | None = None

    def complete(self, partitions: int) -> bool:
        if len(self.ends) < partitions:
            return False
        return all((p, c) in self.received for p, n in self.ends.items() for c in range(n))

    def chunk_keys(self) -> list[tuple[int, int]]:
        return sorted((p, c) for p, n in self.ends.items() for c in range(n))


@dataclass(frozen=True, slots=True)
class BlockedWindow:
    """A scheduled window the health check refused; retried on each scheduler cycle until it passes."""

    window_key: str              # "WEEKLY:2026-11-22"
    reason: str                  # the health check's errors, summarised
    errors: int
    since: dt.datetime           # first blocked
    last_attempt: dt.datetime
    attempts: int                # blocked attempts so far (the first close included)
    last_command_id: str


@dataclass(frozen=True, slots=True)
class TenantState:
    tenant_id: str
    sequence: TenantSequence
    closed: frozenset[str] = frozenset()      # windows generated (or refused): never cut again
    batch_ids: tuple[str, ...] = ()      # the Batch objects live in the batches table (bounded row size)
    blocked: tuple[BlockedWindow, ...] = ()   # scheduled windows the health check refused: not closed
    calendar: TenantCalendar | None = None    # its own Invoice Setup (SET_INVOICE_SETUP); None: the default

    def blocked_window(self, window_key: str) -> BlockedWindow | None:
        return next((b for b in self.blocked if b.window_key == window_key), None)


def new_tenant(tenant_id: str) -> TenantState:
    return TenantState(tenant_id, TenantSequence(tenant_id))


def keep_calendar(tenant: TenantState, fresh: TenantState | None) -> TenantState:
    """The tenant as read before a window's awaits, with the Invoice Setup the command agent may
    have stored meanwhile (the only field it writes): the window's write must not undo it."""
    if fresh is None or fresh.calendar is tenant.calendar:
        return tenant
    return replace(tenant, calendar=fresh.calendar)


def retry_command_id(tenant_id: str, window_key: str, attempt: int) -> str:
    """The command id of a blocked window's next close: one per attempt, so the command agent's
    dedupe by id lets each attempt through once (and the same attempt only once)."""
    return f"close:{tenant_id}:{window_key}:retry{attempt}"


def retries_blocked(request: WindowRequest) -> bool:
    """Only a scheduled window comes back; an on-demand run or a Consolidate is the operator's to repeat."""
    return request.cycle is not None and not request.on_demand and request.consolidate_into is None


def blocked_reason(report: HealthReport, limit: int = 500) -> str:
    """'NO_BILLTO x2: pay line ...: no Billto (...); MISSING_BILL_RATE x1: ...': each error code
    with its count and its first message."""
    counts = Counter(f.code for f in report.errors)
    first = {}
    for f in report.errors:
        first.setdefault(f.code, f.message)
    text = "; ".join(f"{code} x{n}: {first[code]}" for code, n in sorted(counts.items()))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def tenant_after_generation(tenant: TenantState, request: WindowRequest, result: GenerationResult,
                            now: dt.datetime) -> TenantState:
    """The tenant once a window ran: its sequence and batch moved on, and the window closed, or,
    a scheduled window the health check blocked, (still) in the blocked list and not closed."""
    key = request.window_key
    if result.blocked and retries_blocked(request):
        before = tenant.blocked_window(key)
        record = BlockedWindow(key, blocked_reason(result.report), len(result.report.errors),
                               before.since if before else now, now, (before.attempts if before else 0) + 1,
                               request.command_id)
        others = tuple(b for b in tenant.blocked if b.window_key != key)
        return replace(tenant, blocked=others + (record,))
    batch_ids = tenant.batch_ids + ((result.batch.batch_id,) if result.batch else ())
    return replace(tenant, sequence=result.sequence or tenant.sequence, closed=tenant.closed | {key},
                   batch_ids=batch_ids, blocked=tuple(b for b in tenant.blocked if b.window_key != key))


def tenant_after_refusal(tenant: TenantState, request: WindowRequest) -> TenantState:
    """A window refused outright (a domain error, not the health check) is closed, never retried."""
    key = request.window_key
    return replace(tenant, closed=tenant.closed | {key}, blocked=tuple(b for b in tenant.blocked if b.window_key != key))


def starts_new_attempt(state: WindowState | None, tenant: TenantState | None, request: WindowRequest) -> bool:
    """A message for a window already done opens a new attempt only if the window is blocked (not
    closed) and its command is one the window has not run yet: a retry (or an operator's close),
    not a replay of an earlier attempt (those only get their reservations released)."""
    if state is None or not state.done or not state.blocked or tenant is None:
        return False
    blocked = tenant.blocked_window(request.window_key)
    if blocked is None or request.window_key in tenant.closed:
        return False
    earlier = {blocked.last_command_id, state.request.command_id, f"close:{tenant.tenant_id}:{request.window_key}",
               *(retry_command_id(tenant.tenant_id, request.window_key, n) for n in range(1, blocked.attempts))}
    return request.command_id not in earlier


def on_chunk(state: WindowState | None, chunk: LinesChunk) -> WindowState:
    state = state or WindowState(chunk.request)
    return replace(state, received=state.received | {(chunk.source_partition, chunk.chunk)})


def on_end(state: WindowState | None, end: WindowEnd) -> WindowState:
    state = state or WindowState(end.request)
    return replace(state, ends={**state.ends, end.source_partition: end.chunks})


def hierarchy_for(tenant_id: str, nodes: Iterable[tuple[bytes, BilltoNode]]) -> BilltoHierarchy:
    prefix = f"{tenant_id}:".encode()
    return BilltoHierarchy({n.entity_id: n for k, n in nodes if k.startswith(prefix) and n is not None})


def document_cost(placements: dict[str, Placement], approvals: dict[str, bytes]):
    """A line's weight in its document command: the line, plus its approval and placement as
    if it alone carried them (an over-estimate: a shared approval or placement travels once)."""
    placement_bytes = {pid: encoded_size(p) for pid, p in placements.items()}

    def cost(line: PayLine) -> int:
        kept = approvals.get(line.timesheet_id) if line.timesheet_id else None
        return line_bytes(line) + len(kept or b"") + placement_bytes.get(line.placement_id, 0)
    return cost


def generate(request: WindowRequest, chunks: Iterable[LinesChunk], hierarchy: BilltoHierarchy,
             tenant: TenantState, size: InvoiceSize = DEFAULT_SIZE) -> GenerationResult:
    lines: dict[str, PayLine] = {}
    placements: dict[str, Placement] = {}
    approvals: dict[str, bytes] = {}
    for chunk in chunks:
        for p in chunk.placements:
            placements[p.placement_id] = p
        for line in chunk.lines:
            lines[line.pay_line_id] = line
        approvals.update(chunk.approvals)
    period_start, period_end = request.period_start, request.period_end
    if request.on_demand and lines:      # an on-demand run covers the days of what it invoices
        period_start = min(x.work_start or x.work_date for x in lines.values())
        period_end = max(x.work_date for x in lines.values())
    gen = GenerationRequest(
        tenant_id=request.tenant_id, batch_key=request.window_key, issue_date=request.as_of,
        period_start=period_start, period_end=period_end,
        created_at=request.created_at or dt.datetime.combine(request.as_of, dt.time(0), tzinfo=dt.timezone.utc),
        on_demand=request.on_demand, account_id=request.account_id, first_number=request.first_number)
    ordered = [lines[k] for k in sorted(lines)]
    return generate_invoices(ordered, placements, hierarchy, tenant.sequence, gen, size,
                             document_cost(placements, approvals))


@dataclass(frozen=True, slots=True)
class Refusal:
    """The window cannot be generated as asked (e.g. its first number was already issued)."""

    reason: str


def try_generate(request: WindowRequest, chunks: Iterable[LinesChunk], hierarchy: BilltoHierarchy,
                 tenant: TenantState, size: InvoiceSize = DEFAULT_SIZE) -> GenerationResult | Refusal:
    """generate(), with any failure as a value: the assembler then still settles, releases
    and answers the command instead of crashing with the window's lines reserved.

    generate() is pure (no I/O): whatever it raises comes from this window's values (e.g. an
    as_of near year 9999 whose due date overflows), so it is this command's refusal; retrying
    after a restart would fail the same way, with the lines still reserved."""
    try:
        return generate(request, chunks, hierarchy, tenant, size)
    except DomainError as exc:
        return Refusal(exc.reason)
    except Exception as exc:   # noqa: BLE001 - see above
        log.error("window %s of tenant %s failed in generation: %s: %s", request.window_key, request.tenant_id,
                  type(exc).__name__, exc, exc_info=exc)
        return Refusal(f"{type(exc).__name__}: {exc}")


def releases_on_completion(request: WindowRequest, partitions: int) -> tuple[int, ...]:
    """Every ledger partition gets a Release once the window is settled; a manual Consolidate's
    lines are settled by the invoice's owner, so the assembler lets none of them go."""
    return () if request.consolidate_into else tuple(range(partitions))


def late_release(state: WindowState | None, msg: LinesChunk | WindowEnd) -> int | None:
    """A message for a window already done: the ledger partition to send a Release to.

    Only on the end marker, which that partition sends after all of its chunks, so the
    Release reaches the partition after the (replayed) Collect that reserved them."""
    if state is None or not state.done or not isinstance(msg, WindowEnd) or state.request.consolidate_into:
        return None
    return msg.source_partition


SETTLE_PLACEMENTS_PER_MESSAGE = 500


def split_assignments(assignments: dict[str, dict], size: int = SETTLE_PLACEMENTS_PER_MESSAGE,
                      budget: int = BUDGET) -> list[tuple[dict[str, dict], frozenset[str]]]:
    """Settle messages of at most `size` placements and about `budget` encoded bytes.

    Each part is (assignments, the placements whose last lines it carries). A placement whose
    lines alone exceed the budget is split over several messages; only the one with its last
    lines releases the window's reservations there (until then no other window may take them)."""
    parts: list[tuple[dict[str, dict], frozenset[str]]] = []
    current: dict[str, dict] = {}
    finished: set[str] = set()
    used = 0

    def flush() -> None:
        nonlocal current, finished, used
        parts.append((current, frozenset(finished)))
        current, finished, used = {}, set(), 0

    for key in sorted(assignments):
        if len(current) >= size:
            flush()
        lines = assignments[key]
        current[key] = mine = {}          # a placement with nothing invoiced still settles (releases)
        for pay_line_id in sorted(lines):
            cost = encoded_size(lines[pay_line_id])
            if used and used + cost > budget:
                if not mine:
                    del current[key]
                flush()
                current[key] = mine = {}
            mine[pay_line_id] = lines[pay_line_id]
            used += cost
        finished.add(key)
    if current or not parts:
        flush()
    return parts


def settlements(chunks: Iterable[LinesChunk], assignments: dict[str, str]
                ) -> dict[int, dict[str, dict[str, tuple[PayLine, str]]]]:
    """Per ledger partition: {placement key: {pay_line_id: (line as drawn, invoice_id)}} for every
    placement that sent lines (a placement with none invoiced still settles: its reservations go)."""
    out: dict[int, dict[str, dict[str, tuple[PayLine, str]]]] = {}
    for chunk in chunks:
        part = out.setdefault(chunk.source_partition, {})
        for line in chunk.lines:
            key = f"{line.tenant_id}:{line.placement_id}"
            mine = part.setdefault(key, {})
            if line.pay_line_id in assignments:
                mine[line.pay_line_id] = (line, assignments[line.pay_line_id])
    return out



@dataclass(frozen=True, slots=True)
class ReportInputs:
    """What an invoice's owner needs for its timesheet report (it does not hold the placements'
    ledgers): the placements and kept approvals (Avro bytes) behind its timesheet lines.
    Indexed once per window, then asked once per invoice."""

    timesheet_of: dict[str, str]          # pay line id -> timesheet id
    approvals: dict[str, bytes]           # timesheet id -> Avro bytes of the approval
    placements: dict[str, Placement]

    @classmethod
    def of(cls, chunks: Iterable[LinesChunk]) -> ReportInputs:
        chunks = list(chunks)
        return cls({line.pay_line_id: line.timesheet_id for c in chunks for line in c.lines if line.timesheet_id},
                   {ts: raw for c in chunks for ts, raw in c.approvals.items()},
                   {p.placement_id: p for c in chunks for p in c.placements})

    def for_invoice(self, invoice: Invoice) -> tuple[tuple[Placement, ...], tuple[bytes, ...]]:
        mine = [line for line in invoice.lines if line.pay_line_id in self.timesheet_of]
        placement_ids = sorted({line.placement_id for line in mine})
        return (tuple(self.placements[p] for p in placement_ids if p in self.placements),
                self.approvals_for(self.timesheet_of[line.pay_line_id] for line in mine))

    def approvals_for(self, timesheet_ids: Iterable[str]) -> tuple[bytes, ...]:
        return tuple(self.approvals[t] for t in sorted(set(timesheet_ids)) if t in self.approvals)
