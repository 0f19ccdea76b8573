"""The failure policy's one place (workers/guard.py), without a worker process."""
import asyncio
import logging

import pytest

from workers import guard


class _Stopped(BaseException):
    """What the replaced process exit raises, so the test sees the exit code."""


@pytest.fixture
def exits(monkeypatch):
    codes = []

    def fake_exit(code):
        codes.append(code)
        raise _Stopped(code)

    monkeypatch.setattr(guard, "_exit", fake_exit)
    return codes


class _Message:
    topic, partition, offset = "ats.timesheets", 3, 41


def test_an_escaping_exception_stops_the_worker_with_its_traceback_logged(exits, caplog):
    async def handle():
        async with guard.failure_stops_worker("ledger_side", _Message):
            raise KeyError("broken table")

    with caplog.at_level(logging.CRITICAL, logger="workers.guard"), pytest.raises(_Stopped):
        asyncio.run(handle())
    assert exits == [guard.EXIT_AGENT_FAILURE]
    (record,) = caplog.records
    assert "ats.timesheets[3]@41" in record.getMessage() and "ledger_side" in record.getMessage()
    assert record.exc_info and record.exc_info[0] is KeyError


def test_a_message_handled_without_error_does_not_stop(exits):
    async def handle():
        async with guard.failure_stops_worker("ledger_side", _Message):
            return 1

    asyncio.run(handle())
    assert exits == []


def test_a_command_the_pure_conversion_chokes_on_is_refused_not_a_crash():
    from workers.agents_commands import _pure
    from workers.command_logic import CommandRefused

    def overflowing(_):
        raise OverflowError("date value out of range")

    with pytest.raises(CommandRefused, match="OverflowError: date value out of range"):
        _pure(overflowing, {})


def test_a_failed_timer_tick_is_logged_and_the_next_tick_runs(caplog):
    ticks = []

    @guard.keeps_ticking("scheduler")
    async def tick():
        ticks.append(1)
        if len(ticks) == 1:
            raise ConnectionError("broker away")

    with caplog.at_level(logging.ERROR, logger="workers.guard"):
        asyncio.run(tick())
        asyncio.run(tick())
    assert len(ticks) == 2
    (record,) = caplog.records
    assert "scheduler" in record.getMessage() and record.exc_info[0] is ConnectionError
