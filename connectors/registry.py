"""Which AR/GL connection each tenant has, from BACKOFFICE_CONNECTORS_CONFIG (YAML or JSON):

    tenants:
      acme:
        system: xero
        base_url: https://api.xero.com
        xero_tenant_id: 1c2f...
        token_url: https://identity.xero.com/connect/token
        client_id: ABC
        client_secret_env: XERO_CLIENT_SECRET     # the secret itself stays in the environment

Connector classes register by system name; tokens come from the encrypted token store
(BACKOFFICE_TOKEN_DIR, key BACKOFFICE_TOKEN_KEY), one connection per (system, tenant), and
so does the connection's per-company mapping (connectors.mapping, written by `backoffice
connect`): a tenant without one is refused (MappingMissing pauses it) instead of guessed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from connectors.base import Connector
from connectors.mapping import MappingMissing, QboMapping, XeroMapping, mapping_from
from connectors.oauth import OAuthTokenProvider
from connectors.tokens import FernetFileStore, TokenStore


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Connection:
    tenant_id: str
    system: str
    settings: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.system}-{self.tenant_id}"


Factory = Callable[[Connection, OAuthTokenProvider, object], Connector]
FACTORIES: dict[str, Factory] = {}


def register(system: str, factory: Factory) -> None:
    FACTORIES[system] = factory


def _xero(conn: Connection, tokens: OAuthTokenProvider, mapping: XeroMapping) -> Connector:
    from connectors.xero import XeroConnector, XeroLimits, XeroOptions

    limits = XeroLimits(**conn.settings.get("limits", {}))
    options = XeroOptions(account_code=mapping.account_code, taxable_tax_type=mapping.taxable_tax_type,
                          exempt_tax_type=mapping.exempt_tax_type)
    return XeroConnector(conn.settings["base_url"], conn.settings["xero_tenant_id"], conn.tenant_id, tokens, limits,
                         options)


def _quickbooks(conn: Connection, tokens: OAuthTokenProvider, mapping: QboMapping) -> Connector:
    from connectors.qbo_http import QboLimits
    from connectors.quickbooks import QuickBooksConnector

    return QuickBooksConnector(conn.settings["base_url"], conn.settings["realm_id"], conn.tenant_id, tokens,
                               QboLimits(**conn.settings.get("limits", {})), mapping=mapping)


register("xero", _xero)
register("quickbooks", _quickbooks)


def load_connections(path: str | Path | None = None) -> dict[str, Connection]:
    path = path or os.environ.get("BACKOFFICE_CONNECTORS_CONFIG")
    if not path:
        raise ConfigError("BACKOFFICE_CONNECTORS_CONFIG is not set (a YAML file mapping tenants to connections)")
    data = yaml.safe_load(Path(path).read_text()) or {}
    out = {}
    for tenant, settings in (data.get("tenants") or {}).items():
        if "system" not in settings:
            raise ConfigError(f"tenant {tenant}: 'system' is missing")
        out[str(tenant)] = Connection(str(tenant), settings["system"], dict(settings))
    return out


class Registry:
    """Lazily builds one connector (with its token provider) per tenant of one system."""

    def __init__(self, system: str, connections: dict[str, Connection], store: TokenStore | None = None) -> None:
        if system not in FACTORIES:
            raise ConfigError(f"no connector registered for {system!r}; known: {', '.join(sorted(FACTORIES))}")
        self.system = system
        self.connections = {t: c for t, c in connections.items() if c.system == system}
        self._store = store
        self._built: dict[str, Connector] = {}

    @property
    def store(self) -> TokenStore:
        if self._store is None:
            self._store = FernetFileStore(os.environ.get("BACKOFFICE_TOKEN_DIR", "var/tokens"))
        return self._store

    def serves(self, tenant_id: str) -> bool:
        return tenant_id in self.connections

    def connector(self, tenant_id: str) -> Connector:
        if tenant_id not in self._built:
            conn = self.connections[tenant_id]
            s = conn.settings
            secret = os.environ.get(s.get("client_secret_env", ""), s.get("client_secret", ""))
            mapping = mapping_from(self.system, tenant_id, self.store.load_mapping(conn.key))  # or MappingMissing
            tokens = OAuthTokenProvider(self.store, conn.key, s["token_url"], s.get("client_id", ""), secret)
            self._built[tenant_id] = FACTORIES[self.system](conn, tokens, mapping)
        return self._built[tenant_id]

    def reauthorized(self, tenant_id: str) -> bool:
        """Does the token store hold a usable grant and a complete mapping for the tenant again
        (after `backoffice connect`)?"""
        key = self.connections[tenant_id].key
        tokens = self.store.load(key)
        try:
            mapping_from(self.system, tenant_id, self.store.load_mapping(key))
        except MappingMissing:
            return False
        return tokens is not None and not tokens.needs_reauth

    async def reset(self, tenant_id: str) -> None:
        """Forget the tenant's connector, so the next call starts from the token store."""
        built = self._built.pop(tenant_id, None)
        if built is not None:
            await built.aclose()

    async def aclose(self) -> None:
        for c in self._built.values():
            await c.aclose()
