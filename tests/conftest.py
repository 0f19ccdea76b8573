"""Shared fixtures: one real broker per test session (embedded Tansu unless
KAFKA_BOOTSTRAP_SERVERS points at another Kafka)."""
from __future__ import annotations

import os
import uuid

import pytest

from infra.broker import EmbeddedBroker
from tests import hypothesis_profiles  # noqa: F401  (registers --hypothesis-profile=long)


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
