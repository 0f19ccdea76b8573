"""Read commands from the read model (`backoffice projector` fills it): batches, invoices,
invoice N, lines, dead-letters, health, pdf N. Human identifiers (invoice numbers, account names,
pay-line short ids), tables for people, --json for scripts.

Before reading, a command waits (bounded, --timeout) until the projector has reached the
topics' current ends when a broker is configured, so a read right after a write sees it; the
operator commands use `wait_for_read_model` the same way once their outcome arrives.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from cli.common import settings_or_exit
from cli.main import cli
from readmodel import freshness, queries as q

WAITED = freshness.WAITED


def read_engine(settings=None):
    """The read model's engine (same URL as the projector), refusing an empty database."""
    import sqlalchemy as sa

    from infra.settings import database_url
    from readmodel.db import engine_for

    settings = settings or settings_or_exit()
    engine = engine_for(database_url(settings))
    if not sa.inspect(engine).has_table("invoices"):
        raise click.ClickException(f"the read model at {engine.url.render_as_string()} is empty: "
                                   f"start `backoffice projector` (it creates and fills it)")
    return engine


class NotCaughtUp(click.ClickException):
    exit_code = 3


def wait_caught_up(engine, settings, bootstrap: str, timeout: float, command_id: str | None = None,
                   released: str | None = None) -> None:
    """readmodel.freshness.wait_caught_up for a command line: NotCaughtUp exits with code 3."""
    try:
        freshness.wait_caught_up(engine, settings.projector_group, bootstrap, timeout, command_id, released)
    except freshness.NotCaughtUp as exc:
        raise NotCaughtUp(str(exc)) from None


def _fresh_engine(timeout: float, wait: bool):
    settings = settings_or_exit()
    engine = read_engine(settings)
    if wait and settings.kafka_bootstrap_servers:
        wait_caught_up(engine, settings, settings.kafka_bootstrap_servers, timeout)
    return engine


def wait_for_read_model(command_id: str, timeout: float, released: str | None = None) -> None:
    """Read your writes: after an operator command's outcome, until the projector holds it."""
    settings = settings_or_exit()
    wait_caught_up(read_engine(settings), settings, settings.kafka_bootstrap_servers, timeout, command_id, released)


# -- output ------------------------------------------------------------------------------------
def _table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[("" if r.get(k) is None else str(r.get(k))) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)]
    click.echo("  ".join(h.ljust(w) for (_, h), w in zip(columns, widths)).rstrip())
    for c in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths)).rstrip())


def _json(value) -> None:
    click.echo(json.dumps(q.plain(value), indent=2, sort_keys=True))


def read_options(f):
    f = click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")(f)
    f = click.option("--timeout", type=float, default=30, show_default=True,
                     help="Seconds to wait for the projector to reach the topics' ends.")(f)
    return click.option("--no-wait", is_flag=True, help="Read at once, even if the projector lags.")(f)


INVOICE_COLUMNS = [("number", "NUMBER"), ("kind", "KIND"), ("status", "STATUS"), ("account_name", "ACCOUNT"),
                   ("period_end", "PERIOD END"), ("total", "TOTAL"), ("line_count", "LINES"), ("batch_id", "BATCH")]


# -- commands ----------------------------------------------------------------------------------
@cli.command()
@click.option("--tenant", default=None, help="Only this tenant.")
@read_options
def batches(tenant, as_json, timeout, no_wait) -> None:
    """List Batches: previous batches with their documents; pending per account (Timesheets /
    Products & Services)."""
    found = q.batches(_fresh_engine(timeout, not no_wait), tenant)
    if as_json:
        return _json(found)
    for b in found["batches"]:
        click.echo(f"batch {b['batch_id']} ({b['tenant_id']}): {b['documents']} document(s), total {b['total']}")
        _table(b["invoices"], [("number", "  NUMBER"), ("kind", "KIND"), ("status", "STATUS"),
                               ("account_name", "ACCOUNT"), ("total", "TOTAL")])
    click.echo("pending:")
    _table([{**p, "ts": f"{p['timesheets']['lines']} / {p['timesheets']['amount']}",
             "ps": f"{p['products_services']['lines']} / {p['products_services']['amount']}"}
            for p in found["pending"]],
           [("tenant_id", "TENANT"), ("account_name", "ACCOUNT"), ("account_id", "ACCOUNT ID"),
            ("ts", "TIMESHEETS (lines / amount)"), ("ps", "PRODUCTS & SERVICES (lines / amount)")])


@cli.command()
@click.option("--tenant", default=None)
@click.option("--status", type=click.Choice(["NEW", "RECORDED", "SENT", "VOID"], case_sensitive=False), default=None)
@click.option("--account", default=None, help="Account id or name.")
@click.option("--batch", default=None)
@click.option("--period", default=None, help="Period end date (YYYY-MM-DD).")
@read_options
def invoices(tenant, status, account, batch, period, as_json, timeout, no_wait) -> None:
    """Invoices and credit memos, by status / account / batch / period."""
    try:
        found = q.invoices(_fresh_engine(timeout, not no_wait), tenant, status, account, batch, period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    if as_json:
        return _json(found)
    _table(found, ([("tenant_id", "TENANT")] if not tenant else []) + INVOICE_COLUMNS)


@cli.command()
@click.argument("number")
@click.option("--tenant", required=True, help="Numbers are per tenant.")
@read_options
def invoice(number, tenant, as_json, timeout, no_wait) -> None:
    """One invoice by NUMBER: detail, lines, sync status per system, history."""
    try:
        d = q.invoice_detail(_fresh_engine(timeout, not no_wait), tenant, number)
    except q.LookupRefused as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        return _json(d)
    click.echo(f"{d['kind']} {d['number']} ({d['invoice_id']})  {d['status']}  account {d['account_name']} "
               f"({d['account_id']})  batch {d['batch_id']}")
    click.echo(f"period {d['period_start']} .. {d['period_end']}  issued {d['issue_date']}  due {d['due_date']}  "
               f"subtotal {d['subtotal']}  tax {d['tax']}  total {d['total']} {d['currency']}")
    _table(d["lines"], [("short_id", "LINE"), ("description", "DESCRIPTION"), ("quantity", "QTY"), ("rate", "RATE"),
                        ("amount", "AMOUNT"), ("status", "STATUS")])
    click.echo("sync:")
    _table(d["sync"], [("system", "SYSTEM"), ("status", "STATUS"), ("external_id", "EXTERNAL ID"),
                       ("attempts", "ATTEMPTS"), ("error", "ERROR")])
    click.echo("history:")
    _table(d["history"], [("occurred_at", "AT"), ("event_type", "EVENT"), ("status", "STATUS")])


@cli.command()
@click.option("--tenant", default=None)
@click.option("--status", type=click.Choice(["SCHEDULED", "PENDING", "SNOOZED", "INVOICED", "REMOVED"],
                                            case_sensitive=False), default=None)
@click.option("--account", default=None, help="Account id or name.")
@click.option("--placement-type", type=click.Choice(["TEMP", "PERM", "CONTRACT"], case_sensitive=False), default=None)
@click.option("--credit-memos", is_flag=True, help="Only credit lines.")
@read_options
def lines(tenant, status, account, placement_type, credit_memos, as_json, timeout, no_wait) -> None:
    """Pay lines with their short ids (full ids in --json)."""
    found = q.lines(_fresh_engine(timeout, not no_wait), tenant, status, account, placement_type, credit_memos)
    if as_json:
        return _json(found)
    _table(found, [("short_id", "LINE"), ("status", "STATUS"), ("account_id", "ACCOUNT"),
                   ("placement_id", "PLACEMENT"), ("category", "CATEGORY"), ("work_date", "WORK DATE"),
                   ("description", "DESCRIPTION"), ("amount", "AMOUNT"), ("invoice_number", "INVOICE")])


@cli.command("dead-letters")
@click.option("--tenant", default=None)
@read_options
def dead_letters(tenant, as_json, timeout, no_wait) -> None:
    """Input the workers refused, with the reason and where it came from."""
    found = q.dead_letters(_fresh_engine(timeout, not no_wait), tenant)
    if as_json:
        return _json(found)
    _table([{**d, "where": f"{d['original_topic']}[{d['original_partition']}]@{d['original_offset']}",
             "error": (d["error"] or "")[:100]} for d in found],
           [("first_seen", "SEEN"), ("tenant_id", "TENANT"), ("where", "FROM"), ("error_type", "TYPE"),
            ("error", "REASON")])


@cli.command()
@click.argument("number")
@click.option("--tenant", required=True)
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--kind", default=None, help="Which stored document (default: the invoice / credit memo itself).")
def pdf(number, tenant, output, kind) -> None:
    """Download a recorded document's PDF by number (from BACKOFFICE_DOCUMENT_STORE)."""
    from documents.settings import DocumentSettings
    from documents.store import DocumentStoreError, store_from_uri

    settings = settings_or_exit()
    try:
        d = q.invoice_detail(read_engine(settings), tenant, number)
    except q.LookupRefused as exc:
        raise click.ClickException(str(exc)) from None
    wanted = kind or ("credit_memo" if d["kind"] == "CREDIT_MEMO" else "invoice")
    store = store_from_uri(DocumentSettings().document_store)
    try:
        stored = [s for s in store.list(tenant, d["invoice_id"]) if s.kind == wanted]
        if not stored:
            raise click.ClickException(f"{d['kind']} {number} ({d['status']}) has no stored {wanted} PDF: "
                                       f"record it first (`backoffice record --tenant {tenant} {number}`)")
        output.write_bytes(store.get(stored[-1].uri))
    except DocumentStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{output}: {stored[-1].size} bytes ({wanted} {number})")


@cli.command()
@click.option("--tenant", required=True)
@read_options
def health(tenant, as_json, timeout, no_wait) -> None:
    """The findings of the tenant's latest health check (each generate and scheduled close runs one
    over the pending lines first), each with the record to fix."""
    found = q.latest_health(_fresh_engine(timeout, not no_wait), tenant)
    if as_json:
        return _json(found)
    if found["checked_at"] is None:
        click.echo(f"no health check has run yet for {tenant}: generate runs one over the pending lines first")
        return
    verdict = "passed" if not found["findings"] else ("errors: generation refused" if not found["ok"]
                                                       else "warnings only: generation went ahead")
    click.echo(f"health check of {tenant} at {found['checked_at']} ({found['command_id']}): {verdict}")
    _table(found["findings"], [("severity", "SEVERITY"), ("code", "CODE"), ("message", "FINDING"),
                               ("ref", "RECORD TO FIX")])
