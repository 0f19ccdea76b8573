"""Every request body the connector suite sends goes through the vendors' own SDK models
(tests/connectors/vendor_models.py, called by both test servers): a test fails when any
server it started refused a body for breaking them, even if the connector recovered."""
import pytest

from tests.connectors.qbo_server import QboTestServer
from tests.connectors.xero_server import XeroTestServer


@pytest.fixture(autouse=True)
def bodies_the_vendor_sdks_accept():
    for server_class in (QboTestServer, XeroTestServer):
        server_class.created.clear()
    yield
    violations = [v for server_class in (QboTestServer, XeroTestServer) for server in server_class.created
                  for v in server.contract_violations]
    assert not violations, f"request bodies the vendor SDK models refuse: {violations[:5]}"
