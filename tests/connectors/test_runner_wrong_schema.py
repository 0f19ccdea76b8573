"""A record of another schema on billing.commands (issue 12) is a dead letter for the
connector runner, not a KeyError that stops it."""
import datetime as dt

import pytest

from connectors.runner import ConnectorRunner
from schemas.codec import encode
from schemas.topics import BILLING_COMMANDS
from simulator.records import timesheet_record


class _ServesAll:
    def serves(self, tenant: str) -> bool:
        return True


class _Message:
    def __init__(self, topic, value):
        self._topic, self._value = topic, value

    def topic(self):
        return self._topic

    def partition(self):
        return 0

    def offset(self):
        return 5

    def key(self):
        return b"t1"

    def value(self):
        return self._value


@pytest.mark.integration
def test_a_timesheet_on_billing_commands_is_dead_lettered_by_the_connector_runner(kafka_bootstrap):
    runner = ConnectorRunner("export", kafka_bootstrap, _ServesAll())
    value = encode("TimesheetApproved", timesheet_record("t1", "p1", dt.date(2026, 9, 13)))
    job = runner.route(_Message(BILLING_COMMANDS, value))
    assert job.handled and job.action == "skip"
    runner.producer.flush(10)
