"""Shared fixtures: one real broker per test session (embedded Tansu unless
KAFKA_BOOTSTRAP_SERVERS points at another Kafka)."""
from __future__ import annotations

import os
import uuid

import pytest

from infra.broker import EmbeddedBroker
from tests import hypothesis_profiles  # noqa: F401  (registers --hypothesis-profile=long)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist processes (`--dist loadgroup`). Every test that starts real
    processes (the broker, workers, connectors, PostgreSQL: the `integration` marker) joins one group,
    so they run one at a time, in order, in one process, as they would alone; the other process takes
    the pure and property tests, which only need CPU. Without xdist the group mark does nothing."""
    for item in items:
        if item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.xdist_group("real-processes"))


@pytest.fixture(scope="session")
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
