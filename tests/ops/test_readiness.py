"""/readyz's broker check: a metadata request to a live broker, and to a port nobody listens on."""
import asyncio

import pytest

from infra.broker import free_port
from ops.readiness import BrokerProbe


def test_an_unreachable_broker_is_a_reason_not_to_be_ready():
    probe = BrokerProbe(f"127.0.0.1:{free_port()}", timeout=1.0)
    reason = asyncio.run(probe.reason())
    assert reason is not None and "unreachable" in reason and probe.bootstrap in reason


@pytest.mark.integration
def test_a_live_broker_is_ready_and_the_answer_is_remembered(kafka_bootstrap):
    probe = BrokerProbe(kafka_bootstrap, timeout=5.0, ttl=3600)

    async def twice():
        return await probe.reason(), probe._at, await probe.reason(), probe._at

    first, at, second, at_again = asyncio.run(twice())
    assert first is None and second is None
    assert at is not None and at_again == at, "the second probe used the remembered answer"
