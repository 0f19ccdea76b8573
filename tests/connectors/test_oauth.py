"""OAuth onboarding and refresh against the Xero test server's token endpoint."""
import asyncio
import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet

from connectors.base import NeedsReauthorization
from connectors.oauth import OAuthTokenProvider, seed
from connectors.tokens import FernetFileStore, TokenStoreError
from infra.broker import free_port
from tests.connectors.xero_server import XeroTestServer
from tests.workers.harness import ROOT

REFRESH_SCRIPT = """
import asyncio, sys
from connectors.oauth import OAuthTokenProvider
from connectors.tokens import FernetFileStore
store = FernetFileStore(sys.argv[1], sys.argv[2])
print(asyncio.run(OAuthTokenProvider(store, "xero-t", sys.argv[3], "test-client", "test-secret").access_token()))
"""


@pytest.fixture
def server():
    with XeroTestServer() as s:
        yield s


def test_connect_listens_for_the_redirect_and_stores_working_tokens(server, tmp_path):
    key, port = Fernet.generate_key().decode(), free_port()
    config = {"tenants": {"acme": {"system": "xero", "base_url": server.base_url, "xero_tenant_id": "org",
                                   "token_url": server.token_url, "authorize_url": server.base_url + "/authorize",
                                   "client_id": "test-client", "client_secret_env": "XERO_SECRET",
                                   "scope": "offline_access accounting.transactions"}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BACKOFFICE_CONNECTORS_CONFIG": str(tmp_path / "c.yaml"),
           "XERO_SECRET": "test-secret", "BACKOFFICE_TOKEN_DIR": str(tmp_path / "tok"), "BACKOFFICE_TOKEN_KEY": key}
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "connect", "xero", "--tenant", "acme",
                             "--redirect-port", str(port), "--timeout", "60", "--account-code", "200",
                             "--taxable-tax-type", "OUTPUT", "--exempt-tax-type", "NONE"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        proc.stdout.readline()
        url = urlparse(proc.stdout.readline().strip())
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert query["response_type"] == "code" and query["client_id"] == "test-client"
        for _ in range(50):                                      # the browser comes back with the code
            try:
                reply = httpx.get(query["redirect_uri"], params={"code": server.issue_code("org"),
                                                                 "state": query["state"]})
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert reply.status_code == 200
        output = proc.communicate(timeout=30)[0]
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    store = FernetFileStore(tmp_path / "tok", key)
    provider = OAuthTokenProvider(store, "xero-acme", server.token_url, "test-client", "test-secret")
    token = asyncio.run(provider.access_token())
    assert token and store.load("xero-acme").access_token == token
    assert store.load_mapping("xero-acme") == {"account_code": "200", "taxable_tax_type": "OUTPUT",
                                               "exempt_tax_type": "NONE", "date_format": "DD/MM/YYYY"}
    assert "test-secret" not in output and token not in output


def test_two_processes_refreshing_at_once_refresh_once(server, tmp_path):
    key = Fernet.generate_key().decode()
    store = FernetFileStore(tmp_path, key)
    seed(store, "xero-t", server.issue_grant("org"))
    before = server.token_requests
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", REFRESH_SCRIPT, str(tmp_path), key, server.token_url],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    tokens = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert server.token_requests - before == 1            # the second found the first one's fresh token
    assert len(tokens) == 1 and store.load("xero-t").access_token in tokens


def test_revoked_grant_needs_reauthorization_and_secrets_stay_out_of_reprs(server, tmp_path):
    key = Fernet.generate_key().decode()
    store = FernetFileStore(tmp_path, key)
    seed(store, "xero-t", server.issue_grant("org"))
    server.revoke_all()
    provider = OAuthTokenProvider(store, "xero-t", server.token_url, "test-client", "test-secret")
    with pytest.raises(NeedsReauthorization):
        asyncio.run(provider.access_token())
    tokens = store.load("xero-t")
    assert tokens.needs_reauth and tokens.refresh_token not in repr(tokens)
    with pytest.raises(TokenStoreError):
        FernetFileStore(tmp_path, Fernet.generate_key().decode()).load("xero-t")
    with pytest.raises(TokenStoreError, match="BACKOFFICE_TOKEN_KEY"):
        FernetFileStore(tmp_path, "")
