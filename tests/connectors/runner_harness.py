"""A ConnectorRunner in a thread of the test process, against the embedded broker and a
loopback vendor server (test infrastructure only): start, stop, restart with the same group."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading

from cryptography.fernet import Fernet

from connectors.oauth import seed
from connectors.registry import Connection, Registry
from connectors.runner import ConnectorRunner
from connectors.tokens import FernetFileStore
from schemas.codec import encode
from schemas.mapping import invoice_to_record
from schemas.topics import BILLING_INVOICES, BILLING_SYNC

# what `backoffice connect` stores for the test servers' companies (their seeded ids)
MAPPINGS = {"xero": {"account_code": "200", "taxable_tax_type": "OUTPUT", "exempt_tax_type": "NONE",
                     "date_format": "DD/MM/YYYY"},
            "quickbooks": {"income_account": "79", "taxable_tax_code": "TAX", "exempt_tax_code": "NON"}}
from tests.workers.harness import records_by


def events(tenant, invoices, event_type="RECORDED"):
    at = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    return [(BILLING_INVOICES, inv.invoice_id.encode(), encode("InvoiceEvent", invoice_to_record(
        dataclasses.replace(inv, tenant_id=tenant), event_id=f"{inv.invoice_id}:{event_type}", event_type=event_type,
        occurred_at=at))) for inv in invoices]


def sync_results(bootstrap, tenants):
    return records_by(bootstrap, BILLING_SYNC, "tenant_id", tenants)


def synced_ids(bootstrap, tenant):
    return {r["invoice_id"] for r in sync_results(bootstrap, {tenant}).get(tenant, []) if r["status"] == "SYNCED"}


class Setup:
    """Tenants of one system, their token store and connections (settings as the YAML has them)."""

    def __init__(self, system, server, tmp_path, limits=None, *, key=None, client_secret="test-secret"):
        self.system, self.server, self.client_secret = system, server, client_secret
        self.store = FernetFileStore(tmp_path / "tokens", key or Fernet.generate_key().decode())
        self.connections: dict[str, Connection] = {}
        self.limits = limits or {}

    def grant(self, org):
        if self.system == "xero":
            return self.server.issue_grant(org), {"xero_tenant_id": org}
        return self.server.issue_refresh_token(), {"realm_id": org}

    def add(self, tenant, org, revoked=False, mapped=True):
        token, ids = self.grant(org)
        if revoked:
            self.server.revoke_grants_of(org) if self.system == "xero" else self.server.revoke(token)
        seed(self.store, f"{self.system}-{tenant}", token)
        if mapped:
            self.store.save_mapping(f"{self.system}-{tenant}", MAPPINGS[self.system])
        self.connections[tenant] = Connection(tenant, self.system, {
            "system": self.system, "base_url": self.server.base_url, "token_url": self.server.token_url,
            "client_id": "test-client", "client_secret": self.client_secret, "limits": self.limits, **ids})

    def reconnect(self, tenant, org):
        """What `backoffice connect` leaves behind: a fresh grant in the token store."""
        seed(self.store, f"{self.system}-{tenant}", self.grant(org)[0])

    def runner(self, bootstrap, group, **kw):
        kw = {"attempts": 3, "backoff_initial": 0.05, "backoff_max": 0.5, **kw}
        return ConnectorRunner(self.system, bootstrap, Registry(self.system, self.connections, self.store),
                               group=group, **kw)


class Running:
    """`with Running(runner):` -- runner.run() in its own thread and event loop until the block ends."""

    def __init__(self, runner):
        self.runner = runner
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self.error: BaseException | None = None

    async def _main(self):
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        try:
            await self.runner.run(self.stop)
        except BaseException as exc:      # surfaced by __exit__
            self.error = exc

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        return self.runner

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "runner did not stop"
        if self.error is not None and exc[0] is None:
            raise self.error
