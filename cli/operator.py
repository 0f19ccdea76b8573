"""Operator commands: each publishes an OperatorCommand on billing.commands and waits
for its outcome on billing.outcomes, then (read your writes, bounded by --timeout) for the read
model to hold that outcome and the invoices it names, and prints it (findings included).
Invoices may be named by number (per --tenant), resolved through the read model."""
from __future__ import annotations

import datetime as dt
import time

import click

from backoffice.money import MoneyError, cents
from cli.common import require_bootstrap, settings_or_exit
from cli.main import cli
from ops.commands import FIELDS, command_record, publish_and_wait, publish_many_and_wait  # noqa: F401 (re-exported)


def _print_outcome(record: dict, outcome: dict | None, timeout: float, started: float | None = None) -> None:
    if outcome is None:
        raise click.ClickException(f"no outcome for command {record['command_id']} within {timeout}s "
                                   f"(is a worker running?)")
    ctx = click.get_current_context(silent=True)
    if ctx is None or not ctx.meta.get("no_read_wait"):
        from cli.reads import wait_for_read_model

        left = timeout - (time.monotonic() - started) if started is not None else timeout
        try:
            voided = record["invoice_id"] if record["command"] == "VOID" and outcome["ok"] else None
            wait_for_read_model(record["command_id"], max(left, 1.0), released=voided)
        except click.ClickException as exc:     # the outcome is the broker's: print it, say reads lag
            click.echo(f"warning: {exc.format_message()}; reads may not show this command yet", err=True)
    click.echo(f"{'OK' if outcome['ok'] else 'REFUSED'}: {outcome['message']}")
    for f in outcome["findings"]:
        click.echo(f"  {f['severity']:7} {f['code']:28} {f['message']}")
    if outcome.get("batch_id"):
        click.echo(f"  batch {outcome['batch_id']}: {len(outcome['invoice_ids'])} document(s)")
    if not outcome["ok"]:
        raise SystemExit(1)


def _run(tenant: str, kind: str, timeout: float, **fields) -> None:
    bootstrap = require_bootstrap(settings_or_exit())
    record = command_record(tenant, kind, **fields)
    started = time.monotonic()
    _print_outcome(record, publish_and_wait(bootstrap, record, timeout), timeout, started)


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _skip_read_wait(ctx, _param, value) -> None:
    ctx.meta["no_read_wait"] = value


def timeout_option(f):
    f = click.option("--no-read-wait", is_flag=True, expose_value=False, callback=_skip_read_wait,
                     help="Print the outcome without waiting for the read model (`backoffice projector`).")(f)
    return click.option("--timeout", type=float, default=60, show_default=True,
                        help="Seconds to wait for the outcome and the read model to show it.")(f)


def invoice_ref(tenant: str, ref: str | None) -> str | None:
    """An invoice NUMBER (or id) -> the invoice id, through the read model; ids pass through
    when no read model is there, numbers are refused when unknown or ambiguous."""
    if ref is None:
        return None
    from readmodel.queries import LookupRefused, resolve_invoice

    from cli.reads import read_engine
    try:
        return resolve_invoice(read_engine(), tenant, ref)
    except click.ClickException:
        if ref.isdigit():
            raise click.ClickException(f"invoice number {ref} needs the read model (start `backoffice projector`)"
                                       ) from None
        return ref
    except LookupRefused as exc:
        if not ref.isdigit():       # not a number: an internal id the projector has not seen yet
            return ref
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--tenant", required=True)
@click.option("--account", default=None, help="Only this Billto account (entity id).")
@click.option("--first-number", type=click.IntRange(1), default=None, help="First invoice number of the batch.")
@click.option("--as-of", default=None, help="Business date (YYYY-MM-DD) the run is for; default today.")
@timeout_option
def generate(tenant, account, first_number, as_of, timeout) -> None:
    """Generate Invoices now: health check, then one batch (manual-mode accounts included)."""
    _run(tenant, "GENERATE", timeout, account_id=account, first_number=first_number, as_of=_date(as_of))


@cli.command("close-window")
@click.option("--tenant", required=True)
@click.option("--window", "window_id", required=True, help="CYCLE:PERIOD_END, e.g. WEEKLY:2026-11-22.")
@click.option("--as-of", default=None, help="Business date; default the window's run date.")
@timeout_option
def close_window(tenant, window_id, as_of, timeout) -> None:
    """Close one batch window (what the scheduler does at the window's run time)."""
    _run(tenant, "CLOSE_WINDOW", timeout, window_id=window_id, as_of=_date(as_of),
         command_id=f"close:{tenant}:{window_id}")


@cli.command()
@click.option("--tenant", required=True)
@click.option("--invoice", "invoice_id", required=True, help="A New invoice (number or id) to add line items to.")
@click.option("--account", default=None, help="The invoice's Billto account: only its lines are collected.")
@click.option("--pay-line", "pay_line_ids", multiple=True, help="Only these pay lines (repeatable).")
@click.option("--as-of", default=None, help="Business date (YYYY-MM-DD); default today.")
@timeout_option
def consolidate(tenant, invoice_id, account, pay_line_ids, as_of, timeout) -> None:
    """Consolidate: add the account's pending line items to an existing invoice still in New."""
    _run(tenant, "CONSOLIDATE", timeout, invoice_id=invoice_ref(tenant, invoice_id), account_id=account,
         pay_line_ids=list(pay_line_ids) or None, as_of=_date(as_of))


def _tenant_of(pay_line_id: str) -> str:
    return pay_line_id.split(":", 1)[0]


def pay_line_ref(ref: str) -> str:
    """A pay line's full id, or its short id (`backoffice lines`) resolved through the read model."""
    from readmodel.queries import LookupRefused, resolve_pay_line

    from cli.reads import read_engine
    try:
        return resolve_pay_line(read_engine(), ref) if ":" not in ref else ref
    except LookupRefused as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.argument("pay_line_id")
@click.option("--reason", default=None)
@timeout_option
def snooze(pay_line_id, reason, timeout) -> None:
    """Hold a pay line out of batches (PAY_LINE_ID is tenant:placement|... or its short id)."""
    pay_line_id = pay_line_ref(pay_line_id)
    _run(_tenant_of(pay_line_id), "SNOOZE", timeout, pay_line_id=pay_line_id, reason=reason)


@cli.command()
@click.argument("pay_line_id")
@timeout_option
def unsnooze(pay_line_id, timeout) -> None:
    """Release a snoozed pay line (back to Pending, or Scheduled if its date is ahead); full or short id."""
    pay_line_id = pay_line_ref(pay_line_id)
    _run(_tenant_of(pay_line_id), "UNSNOOZE", timeout, pay_line_id=pay_line_id)


@cli.command("credit-memo")
@click.option("--tenant", required=True)
@click.option("--placement", required=True, help="Placement to credit.")
@click.option("--amount", required=True, help="Amount to credit (positive).")
@click.option("--reason", required=True)
@click.option("--line", "pay_line_id", default=None, help="Credited pay line (links the memo to its invoice).")
@click.option("--invoice", "invoice_id", default=None, help="The credited invoice (number or id).")
@click.option("--taxable/--not-taxable", default=None,
              help="Without --line: whether the credit reverses tax (default: yes unless a perm placement). "
                   "A linked credit always follows its line.")
@timeout_option
def credit_memo(tenant, placement, amount, reason, pay_line_id, invoice_id, taxable, timeout) -> None:
    """Create a credit memo line from an invoiced line or from a placement."""
    try:
        value = cents(amount)
    except MoneyError as exc:
        raise click.BadParameter(f"not an amount in cents: {exc}", param_hint="--amount") from None
    _run(tenant, "CREATE_CREDIT_MEMO", timeout, placement_id=placement, amount=value, reason=reason,
         pay_line_id=pay_line_id, invoice_id=invoice_ref(tenant, invoice_id), taxable=taxable)


@cli.command()
@click.option("--tenant", required=True)
@click.argument("invoice_ids", nargs=-1, required=True, metavar="INVOICE...")
@click.option("--template", default=None, help="Template name (default: account/tenant default).")
@timeout_option
def record(tenant, invoice_ids, template, timeout) -> None:
    """Record & Present: render and store the PDFs, mark Recorded (one or many invoices)."""
    for invoice_id in [invoice_ref(tenant, i) for i in invoice_ids]:
        _run(tenant, "RECORD", timeout, invoice_id=invoice_id, template=template)


@cli.command()
@click.option("--tenant", required=True)
@click.argument("invoice_ids", nargs=-1, required=True)
@click.option("--to", "recipients", multiple=True, help="Extra recipients.")
@click.option("--print", "print_only", is_flag=True, help="Print & Send: mark Sent without email.")
@click.option("--resend", is_flag=True, help="Email again an invoice that was already sent.")
@timeout_option
def send(tenant, invoice_ids, recipients, print_only, resend, timeout) -> None:
    """Email & Send recorded invoices to the AP contact (plus --to), or Print & Send."""
    if print_only and resend:
        raise click.UsageError("--resend emails again; it cannot be combined with --print")
    bootstrap = require_bootstrap(settings_or_exit())
    for invoice_id in [invoice_ref(tenant, i) for i in invoice_ids]:
        started = time.monotonic()
        rec = command_record(tenant, "PRINT_AND_SEND" if print_only else "SEND", invoice_id=invoice_id,
                             resend=resend)
        rec["recipients"] = list(recipients)
        _print_outcome(rec, publish_and_wait(bootstrap, rec, timeout), timeout, started)


@cli.command()
@click.option("--tenant", required=True)
@click.argument("invoice_id")
@timeout_option
def void(tenant, invoice_id, timeout) -> None:
    """Void a document; its pay lines return to Pending."""
    _run(tenant, "VOID", timeout, invoice_id=invoice_ref(tenant, invoice_id))


@cli.command()
@click.option("--tenant", required=True)
@click.option("--time-zone", default=None, help="IANA time zone of the agency, e.g. America/New_York.")
@click.option("--week-ending-day", default=None, help="MONDAY..SUNDAY: the last day of a weekly period.")
@click.option("--invoice-delay", "invoice_delay_days", type=int, default=None,
              help="Days after a period ends before its batch runs (0-27).")
@click.option("--preferred-start-time", default=None, help="HH:MM local start of the weekly batch job.")
@click.option("--cycles", default=None, help="Billing cycles in use, comma-separated: WEEKLY,SEMI_MONTHLY,MONTHLY.")
@timeout_option
def setup(tenant, time_zone, week_ending_day, invoice_delay_days, preferred_start_time, cycles, timeout) -> None:
    """Invoice Setup of one tenant (seed 003): applies from each cycle's next unopened window; a value
    left out keeps the tenant's current one (the deployment's settings until it sets its own)."""
    _run(tenant, "SET_INVOICE_SETUP", timeout, time_zone=time_zone, week_ending_day=week_ending_day,
         invoice_delay_days=invoice_delay_days, preferred_start_time=preferred_start_time,
         cycles=[c.strip() for c in cycles.split(",") if c.strip()] if cycles else None)
