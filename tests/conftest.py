"""Shared fixtures: one real broker per test session (embedded Tansu unless
KAFKA_BOOTSTRAP_SERVERS points at another Kafka)."""
from __future__ import annotations

import os
import uuid

import pytest

from infra.broker import EmbeddedBroker
from tests import hypothesis_profiles  # noqa: F401  (registers --hypothesis-profile=long)


def pytest_addoption(parser):
    parser.addoption("--spread", action="store_true",
                     help="spread the tests of real processes over the xdist processes, one group per test "
                          "function (make test-reliability), instead of one group for all of them (make test)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist processes (`--dist loadgroup`). Every test that starts real
    processes (the broker, workers, connectors, PostgreSQL: the `integration` marker) joins one group,
    so they run one at a time, in order, in one process, as they would alone; the other process takes
    the pure and property tests, which only need CPU. `make test-reliability` (`--spread`), whose tests
    all start real processes and mostly wait on them, gives each test (each parametrization) its own
    group and its own broker (kafka_bootstrap), so the takeover matrix's 25 cases spread over the
    xdist processes and no test reads another's events. Without xdist the group marks do nothing."""
    spread = config.getoption("--spread")
    for item in items:
        if item.get_closest_marker("integration"):
            group = item.nodeid if spread else "real-processes"
            item.add_marker(pytest.mark.xdist_group(group))


def broker_scope(fixture_name, config) -> str:
    """One broker per test under --spread (make test-reliability), one per xdist process otherwise.

    The topics are shared by name (ats.placements...) and every test's worker reads them from the
    start under its own group, so on a session broker each test also consumed every earlier test's
    events: the hostile corpus's ~1 MiB messages, the fuzzer's records, the RSS test's ~35,000
    replayed events. Late takeover cases took 4 minutes instead of one and ran out of their waits."""
    return "function" if config.getoption("--spread") else "session"


@pytest.fixture(scope=broker_scope)
def kafka_bootstrap(tmp_path_factory):
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as broker:
        yield broker.bootstrap


@pytest.fixture
def unique_name():
    """A fresh prefix so tests sharing the session broker never see each other's topics or groups."""
    return f"t{uuid.uuid4().hex[:10]}"


def broker_scope_or_module(fixture_name, config) -> str:
    """For a module fixture that uses kafka_bootstrap: per test when the broker is (--spread)."""
    return "function" if broker_scope(fixture_name, config) == "function" else "module"
