"""Turning an operator command into the internal messages that carry it out (no Faust)."""
from __future__ import annotations

import datetime as dt

from backoffice import limits as bounds
from backoffice.errors import DomainError
from backoffice.invoice_setup import InvoiceSetup, TenantCalendar, parse_setup
from backoffice.model import BillingCycle, CreditMemoRequest
from backoffice.schedules import BatchSchedule
from infra.settings import Settings
from workers.messages import DocumentCommand, LineCommand, WindowRequest
from workers.partitioning import placement_key_of

DOCUMENT_ACTIONS = {"RECORD", "SEND", "PRINT_AND_SEND", "VOID"}
WINDOW_ACTIONS = {"GENERATE", "CLOSE_WINDOW", "CONSOLIDATE"}


class CommandRefused(ValueError):
    """A command that names something wrong; answered with ok=False, never retried."""


def _within_span(today: dt.date, limits: bounds.Limits, **dates: dt.date | None) -> None:
    """Business dates of a command within the configured span around the worker's today:
    a window for year 9999 must be refused here, not fail inside the window with lines reserved."""
    try:
        bounds.check_dates(((name, value) for name, value in dates.items()), today, limits)
    except DomainError as exc:
        raise CommandRefused(f"{exc.code}: {exc.reason}") from None


def schedule_for(cycle: BillingCycle, settings: Settings) -> BatchSchedule:
    return default_setup(settings).schedule(cycle)


def default_setup(settings: Settings) -> InvoiceSetup:
    """The deployment's Invoice Setup (BACKOFFICE_TIMEZONE etc.): what a tenant that set none uses."""
    hour, minute = (int(x) for x in settings.preferred_start_time.split(":"))
    return InvoiceSetup(settings.timezone, settings.week_ending_day, settings.invoice_delay_days,
                        dt.time(hour, minute))


def calendar_for(state, settings: Settings) -> TenantCalendar:
    """A tenant's calendar: its own Invoice Setup (TenantState.calendar) or the deployment's default."""
    calendar = getattr(state, "calendar", None) if state is not None else None
    return calendar if calendar is not None else TenantCalendar.of(default_setup(settings))


def invoice_setup(cmd: dict, current: InvoiceSetup) -> InvoiceSetup:
    """SET_INVOICE_SETUP's values over the tenant's current setup (a field left out keeps its value),
    validated by the domain: an unknown zone or a bad day is a refusal naming it."""
    given = {"time_zone": cmd.get("time_zone"), "week_ending_day": cmd.get("week_ending_day"),
             "invoice_delay_days": cmd.get("invoice_delay_days"),
             "preferred_start_time": cmd.get("preferred_start_time"), "cycles": cmd.get("cycles") or None}
    if all(v is None for v in given.values()):
        raise CommandRefused("SET_INVOICE_SETUP needs at least one of time_zone, week_ending_day, "
                             "invoice_delay_days, preferred_start_time, cycles")
    merged = {"time_zone": current.time_zone, "week_ending_day": current.week_ending_day,
              "invoice_delay_days": current.invoice_delay_days,
              "preferred_start_time": f"{current.preferred_start_time:%H:%M}",
              "cycles": [c.value for c in current.cycles]}
    merged.update({k: v for k, v in given.items() if v is not None})
    try:
        return parse_setup(**merged)
    except DomainError as exc:
        raise CommandRefused(f"{exc.code}: {exc.reason}") from None


def window_request(cmd: dict, settings: Settings, now: dt.datetime, last_number: int = 0,
                   calendar: TenantCalendar | None = None) -> WindowRequest:
    """`last_number`: the tenant's last issued invoice number, so a reused first number is
    refused here; the assembler still refuses one that two commands in flight both asked for.
    `calendar`: the tenant's (default: the deployment's Invoice Setup) cuts a CLOSE_WINDOW's period."""
    tenant, cid = cmd["tenant_id"], cmd["command_id"]
    limits = settings.limits()
    _within_span(now.date(), limits, as_of=cmd.get("as_of"))
    if cmd["command"] == "CLOSE_WINDOW":
        window_id = cmd.get("window_id") or ""
        cycle_name, _, end = window_id.partition(":")
        try:
            cycle, period_end = BillingCycle(cycle_name), dt.date.fromisoformat(end)
        except ValueError:
            raise CommandRefused(f"window_id {window_id!r} is not CYCLE:YYYY-MM-DD") from None
        _within_span(now.date(), limits, window_end=period_end)
        window = (calendar or calendar_for(None, settings)).window_ending(cycle, period_end)
        as_of = cmd.get("as_of") or window.run_at.date()
        return WindowRequest(tenant, window.window_id, cid, cycle.value, window.period_start, window.period_end, as_of,
                             created_at=now)
    as_of = cmd.get("as_of") or now.date()
    if cmd["command"] == "CONSOLIDATE":
        if not cmd.get("invoice_id"):
            raise CommandRefused("CONSOLIDATE needs the invoice_id of a New invoice to add line items to")
        return WindowRequest(tenant, f"cmd:{cid}", cid, None, dt.date(1970, 1, 1), as_of, as_of, on_demand=True,
                             created_at=now, consolidate_into=cmd["invoice_id"],
                             pay_line_ids=tuple(cmd.get("pay_line_ids") or ()))
    first = cmd.get("first_number")
    if first is not None and first < 1:
        raise CommandRefused(f"first_number must be positive, got {first}")
    if first is not None and first <= last_number:
        raise CommandRefused(f"first invoice number {first} was already issued for tenant {tenant} "
                             f"(last issued: {last_number})")
    return WindowRequest(tenant, f"cmd:{cid}", cid, None, dt.date(1970, 1, 1), as_of, as_of, on_demand=True,
                         account_id=cmd.get("account_id"), first_number=first, created_at=now)


def line_command(cmd: dict, today: dt.date, limits: bounds.Limits = bounds.DEFAULT) -> LineCommand:
    kind, tenant, cid = cmd["command"], cmd["tenant_id"], cmd["command_id"]
    if kind in ("SNOOZE", "UNSNOOZE"):
        pay_line_id = cmd.get("pay_line_id")
        if not pay_line_id or "|" not in pay_line_id:
            raise CommandRefused(f"{kind} needs a pay_line_id like tenant:placement|..., got {pay_line_id!r}")
        key = placement_key_of(pay_line_id)
        if not key.startswith(f"{tenant}:"):
            raise CommandRefused(f"pay line {pay_line_id} does not belong to tenant {tenant}")
        return LineCommand(cid, tenant, key, kind, pay_line_id=pay_line_id)
    if kind == "CREATE_CREDIT_MEMO":
        placement_id, amount = cmd.get("placement_id"), cmd.get("amount")
        if not placement_id or amount is None:
            raise CommandRefused("CREATE_CREDIT_MEMO needs placement_id and amount")
        request = CreditMemoRequest(tenant, cid, placement_id, amount, cmd.get("reason") or "credit",
                                    cmd.get("as_of") or today, credited_line_id=cmd.get("pay_line_id"),
                                    credited_invoice_id=cmd.get("invoice_id"), taxable=cmd.get("taxable"))
        try:
            bounds.check_credit(request, today, limits)
        except DomainError as exc:
            raise CommandRefused(f"{exc.code}: {exc.reason}") from None
        return LineCommand(cid, tenant, f"{tenant}:{placement_id}", "CREDIT", credit=request)
    raise CommandRefused(f"{kind} is not a ledger command")


def document_command(cmd: dict) -> DocumentCommand:
    invoice_id = cmd.get("invoice_id")
    if not invoice_id:
        raise CommandRefused(f"{cmd['command']} needs an invoice_id")
    return DocumentCommand(cmd["command"], invoice_id, cmd["command_id"], template=cmd.get("template"),
                           recipients=tuple(cmd.get("recipients") or ()), resend=bool(cmd.get("resend")),
                           pay_line_ids=tuple(cmd.get("pay_line_ids") or ()), tenant_id=cmd["tenant_id"])
