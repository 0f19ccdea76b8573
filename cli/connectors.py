"""`backoffice connector NAME` (the AR/GL sync worker) and `backoffice resync`."""
from __future__ import annotations

import asyncio
import os
import signal

import click

from cli.common import require_bootstrap, settings_or_exit
from cli.main import cli


@cli.command()
@click.argument("name")
@click.option("--attempts", type=int, default=5, show_default=True, help="Retry budget per document batch.")
@click.option("--backoff", type=float, default=1.0, show_default=True, help="First retry wait (seconds).")
@click.option("--reauth-check", type=float, default=30.0, show_default=True,
              help="How often a tenant paused for NEEDS_REAUTH re-reads its token store (seconds).")
def connector(name, attempts, backoff, reauth_check) -> None:
    """Sync billing.invoices into the AR/GL system NAME for every tenant configured for it."""
    from connectors.registry import ConfigError, Registry, load_connections
    from connectors.runner import ConnectorRunner
    from documents.store import LocalDocumentStore
    from ops.broker_watch import install_gate
    from ops.logs import configure_logging
    from ops.metrics import start_lag_metrics
    from ops.readiness import BrokerProbe, serve_probes

    settings = settings_or_exit()
    bootstrap = require_bootstrap(settings)
    configure_logging(settings.log_format)
    install_gate(bootstrap)         # broker gone: one WARNING now and then, not librdkafka's every retry
    try:
        registry = Registry(name, load_connections())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if os.environ.get("BACKOFFICE_METRICS_PORT"):       # /metrics, and /readyz: 503 while the broker is gone
        serve_probes(int(os.environ["BACKOFFICE_METRICS_PORT"]), BrokerProbe(bootstrap),
                     os.environ.get("BACKOFFICE_METRICS_HOST", "127.0.0.1"))
        start_lag_metrics(bootstrap)
    store_dir = os.environ.get("BACKOFFICE_DOCUMENT_STORE")
    runner = ConnectorRunner(name, bootstrap, registry, attempts=attempts, backoff_initial=backoff,
                             reauth_check=reauth_check,
                             document_store=LocalDocumentStore(store_dir) if store_dir else None)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await runner.run(stop)

    asyncio.run(main())


@cli.command()
@click.option("--tenant", required=True)
@click.option("--invoice", "invoice_id", default=None)
@click.option("--batch", "batch_id", default=None)
def resync(tenant, invoice_id, batch_id) -> None:
    """Send an invoice (or every document of a batch) to the AR/GL system again, still exactly once."""
    from cli.operator import command_record, publish_many_and_wait

    if (invoice_id is None) == (batch_id is None):
        raise click.UsageError("give exactly one of --invoice and --batch")
    bootstrap = require_bootstrap(settings_or_exit())
    record = command_record(tenant, "RESYNC", invoice_id=invoice_id, batch_id=batch_id)
    publish_many_and_wait(bootstrap, [record], 0)
    click.echo(f"RESYNC published ({record['command_id']}); the connectors report on billing.sync")


@cli.command("export")
@click.argument("batch_id")
@click.option("--format", "fmt", type=click.Choice(["iif", "xero-csv", "qbo-csv", "csv"]), required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
@click.option("--tenant", default=None, help="Only this tenant's documents (batch ids are per tenant already).")
@click.option("--date-format", type=click.Choice(["DD/MM/YYYY", "MM/DD/YYYY"]), default=None,
              help="xero-csv: the organisation's date format (default: the tenant's stored Xero mapping).")
@click.option("--sales-tax-item", default=None, help="iif: the company's sales-tax item name (needed when taxed).")
def export_batch(batch_id, fmt, out_dir, tenant, date_format, sales_tax_item) -> None:
    """Write BATCH's invoices and credit memos in an offline AR/GL import format, with the PDFs, as one zip.
    A QBO CSV carries invoices only: credit memos are listed in a note beside it."""
    from pathlib import Path

    from connectors.export.bundle import build_zip
    from connectors.export.formats import ExportSettingMissing
    from documents.store import LocalDocumentStore
    from infra.readback import read_to_end
    from schemas.codec import decode
    from schemas.mapping import invoice_from_record
    from schemas.topics import BILLING_INVOICES

    if fmt == "xero-csv" and date_format is None:
        date_format = _stored_xero_date_format(tenant)
    bootstrap = require_bootstrap(settings_or_exit())
    latest: dict[str, dict] = {}
    for msg in read_to_end(bootstrap, BILLING_INVOICES, timeout=300):
        rec = decode(msg.value()).record
        if rec["batch_id"] == batch_id and (tenant is None or rec["tenant_id"] == tenant):
            if rec["invoice_id"] not in latest or rec["version"] >= latest[rec["invoice_id"]]["version"]:
                latest[rec["invoice_id"]] = rec
    if not latest:
        raise click.ClickException(f"no documents of batch {batch_id} on {BILLING_INVOICES}")
    docs = [invoice_from_record(r) for r in latest.values() if r["status"] != "VOID"]
    store_dir = os.environ.get("BACKOFFICE_DOCUMENT_STORE")
    store = LocalDocumentStore(store_dir) if store_dir else None

    def pdfs(doc):
        if store is None:
            return []
        return [(f"{doc.number or doc.invoice_id}-{i + 1}.pdf", store.get(uri))
                for i, uri in enumerate(latest[doc.invoice_id]["document_uris"])]

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{batch_id}-{fmt}.zip"
    try:
        data = build_zip(fmt, batch_id, docs, pdfs, {"date_format": date_format or "", "sales_tax_item": sales_tax_item})
    except ExportSettingMissing as exc:
        raise click.ClickException(str(exc)) from None
    target.write_bytes(data)
    click.echo(f"{len(docs)} document(s) of {batch_id} -> {target}")


def _stored_xero_date_format(tenant: str | None) -> str | None:
    """The tenant's Xero organisation date format from its stored mapping, when there is one."""
    from connectors.registry import ConfigError, Registry, load_connections

    if tenant is None:
        return None
    try:
        registry = Registry("xero", load_connections())
        return (registry.store.load_mapping(registry.connections[tenant].key) or {}).get("date_format")
    except (ConfigError, KeyError, OSError):
        return None


@cli.command()
@click.argument("system", type=click.Choice(["xero", "quickbooks"]))
@click.option("--tenant", required=True)
@click.option("--code", default=None, help="An authorization code already obtained (skips the local listener).")
@click.option("--redirect-port", type=int, default=8765, show_default=True, help="Loopback port of the redirect URI.")
@click.option("--timeout", type=float, default=300, show_default=True, help="Seconds to wait for the browser.")
@click.option("--reconfigure", is_flag=True, help="Tokens are stored already: only (re)map the company's ids.")
@click.option("--income-account", default=None, help="QuickBooks: Account Id (Income) of the items we create.")
@click.option("--taxable-tax-code", default=None, help="QuickBooks: TaxCode Id of taxable lines (TAX in the US).")
@click.option("--exempt-tax-code", default=None, help="QuickBooks: TaxCode Id of exempt lines (NON in the US).")
@click.option("--item-timesheets", default=None, help="QuickBooks: Item Id for timesheet lines (optional).")
@click.option("--item-products-services", default=None, help="QuickBooks: Item Id for product lines (optional).")
@click.option("--account-code", default=None, help="Xero: revenue Account Code of our lines.")
@click.option("--taxable-tax-type", default=None, help="Xero: TaxType of taxable lines.")
@click.option("--exempt-tax-type", default=None, help="Xero: TaxType of exempt lines.")
@click.option("--date-format", type=click.Choice(["DD/MM/YYYY", "MM/DD/YYYY"]), default=None,
              help="Xero: override the organisation's date format (read from its CountryCode).")
def connect(system, tenant, code, redirect_port, timeout, reconfigure, **choices) -> None:
    """Onboard a tenant: OAuth 2.0 authorization code -> tokens in the encrypted token store, then
    map the company's accounts, items and tax codes (read through the vendor API) and store the
    mapping with the tokens. Missing choices are prompted for on a terminal, refused otherwise."""
    import secrets
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs, urlparse

    from connectors.oauth import authorize_url, exchange_code
    from connectors.registry import ConfigError, Registry, load_connections

    try:
        registry = Registry(system, load_connections())
        conn = registry.connections[tenant]
    except (ConfigError, KeyError) as exc:
        raise click.ClickException(f"tenant {tenant} has no {system} connection configured ({exc})") from None
    s = conn.settings
    secret = os.environ.get(s.get("client_secret_env", ""), s.get("client_secret", ""))
    redirect_uri = s.get("redirect_uri") or f"http://127.0.0.1:{redirect_port}/callback"
    state = secrets.token_urlsafe(16)
    if reconfigure:
        _store_mapping(system, tenant, registry, conn, secret, choices)
        return
    if code is None:
        click.echo("Open this address, sign in and allow access:\n  " + authorize_url(
            s.get("authorize_url", ""), s.get("client_id", ""), redirect_uri, s.get("scope", ""), state))
        received: dict = {}

        class Callback(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                query = parse_qs(urlparse(self.path).query)
                received.update({k: v[0] for k, v in query.items()})
                ok = received.get("state") == state and "code" in received
                self.send_response(200 if ok else 400)
                self.end_headers()
                self.wfile.write(b"Connected: you can close this window." if ok else b"Unexpected callback.")

            def log_message(self, *args):
                pass

        server = HTTPServer(("127.0.0.1", redirect_port), Callback)
        server.timeout = timeout
        server.handle_request()
        server.server_close()
        if received.get("state") != state or "code" not in received:
            raise click.ClickException(f"no valid callback (error: {received.get('error', 'state mismatch')})")
        code = received["code"]
    exchange_code(registry.store, conn.key, s["token_url"], s.get("client_id", ""), secret, code, redirect_uri)
    click.echo(f"{system} connected for tenant {tenant}; tokens stored encrypted")
    _store_mapping(system, tenant, registry, conn, secret, choices)


def _store_mapping(system, tenant, registry, conn, secret, choices) -> None:
    """Read the company's ids through the vendor API, resolve the operator's choices, store them."""
    import sys

    from connectors.configure import SettingNeeded, qbo_choices, resolve, xero_choices
    from connectors.oauth import OAuthTokenProvider

    s = conn.settings
    tokens = OAuthTokenProvider(registry.store, conn.key, s["token_url"], s.get("client_id", ""), secret)

    async def read():
        if system == "quickbooks":
            from connectors.qbo_http import QboHttp, QboLimits

            http = QboHttp(s["base_url"], s["realm_id"], tokens, QboLimits())
            reader = qbo_choices
        else:
            from connectors.xero_http import XeroHttp, XeroLimits

            http = XeroHttp(s["base_url"], s["xero_tenant_id"], tokens, XeroLimits())
            reader = xero_choices
        try:
            return await reader(http)
        finally:
            await http.aclose()

    company = asyncio.run(read())
    given = dict(choices)
    while True:
        try:
            mapping = resolve(system, tenant, company, given)
            break
        except SettingNeeded as exc:
            if not sys.stdin.isatty():
                raise click.ClickException(f"{system} mapping for tenant {tenant}: {exc}") from None
            click.echo(str(exc))
            given[exc.setting] = click.prompt(exc.setting, type=click.Choice(sorted(exc.options)))
    registry.store.save_mapping(conn.key, mapping)
    click.echo(f"{system} mapping stored for tenant {tenant}: " + ", ".join(f"{k}={v}" for k, v in mapping.items()))
    if system == "quickbooks" and not company.derived.get("custom_txn_numbers"):
        click.echo("warning: the company's 'Custom transaction numbers' preference is off: the connector refuses "
                   "to sync until it is on (QuickBooks would renumber every document)", err=True)


@cli.command("rotate-token-key")
def rotate_token_key() -> None:
    """Re-encrypt every OAuth token file with the first key of BACKOFFICE_TOKEN_KEY ("new,old").

    Put the new key first and keep the old one after it, run this, then drop the old key.
    """
    from connectors.tokens import FernetFileStore, TokenStoreError

    settings = settings_or_exit()
    try:
        rotated = FernetFileStore(settings.token_dir).rotate()
    except TokenStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"re-encrypted {len(rotated)} token file(s) in {settings.token_dir} with the first key")
