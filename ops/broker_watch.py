"""Losing the broker, said clearly: one WARNING when it goes, one when it is back, no flood.

While the broker is gone the Kafka clients retry on their own (aiokafka about every 100 ms,
librdkafka with its reconnect backoff) and each retry logs an error: thousands of lines a
minute that bury everything else. `BrokerLogGate` counts those lines and lets through one
WARNING naming the broker at growing intervals (1 s, 2 s, 4 s ... 60 s); `BrokerWatch`
probes the broker (ops.readiness.BrokerProbe, the /readyz check) and logs the transitions;
`exit_when_stuck` makes a SIGTERM while the broker is gone end the process with code 0 in a
few seconds instead of waiting for commits that cannot happen (what was not committed is
replayed after a restart, idempotently).
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

# what aiokafka and librdkafka say, again and again, while nobody listens on the broker's port
CONNECTION_NOISE = re.compile(
    r"Unable connect to node|Unable to update metadata|NodeNotReadyError|Connect call failed|Connection refused"
    r"|Broker transport failure|KafkaConnectionError|Failed fetch messages|Group Coordinator Request failed"
    r"|Coordinator .*dead|Connection reset|Disconnected|Connection at .* closed|All brokers are down"
    r"|Error sending .*Request|Heartbeat .*failed|GroupCoordinatorNotAvailable|Failed to send", re.I)
CLIENT_LOGGERS = ("aiokafka", "librdkafka", "kafka", "faust.transport")


class BrokerLogGate(logging.Filter):
    """Put on a handler: the Kafka clients' connection errors become one WARNING per interval."""

    def __init__(self, bootstrap: str, first: float = 1.0, most: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.bootstrap, self.first, self.most, self.clock = bootstrap, first, most, clock
        self.interval, self.due, self.last, self.count, self.since = first, 0.0, None, 0, None
        self._lock = threading.Lock()

    def _noise(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(CLIENT_LOGGERS) or record.levelno < logging.WARNING:
            return False
        try:
            return bool(CONNECTION_NOISE.search(record.getMessage()))
        except Exception:          # a record whose args do not fit its message: not ours to judge
            return False

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._noise(record):
            return True
        with self._lock:
            now = self.clock()
            if self.last is not None and now - self.last > 2 * self.most:     # a new outage
                self.interval, self.due, self.count, self.since = self.first, 0.0, 0, None
            self.last = now
            self.since = self.since if self.since is not None else now
            self.count += 1
            if now < self.due:
                return False
            count, span = self.count, now - self.since
            self.count, self.since = 0, now
            self.due = now + self.interval
            interval, self.interval = self.interval, min(self.interval * 2, self.most)
        record.msg = (f"broker {self.bootstrap} unreachable, the Kafka clients keep retrying: {count} connection "
                      f"error(s) in the last {span:.0f} s (next report in {interval:.0f} s at the earliest); "
                      f"latest: {record.getMessage()[:200]}")
        record.args, record.exc_info, record.exc_text, record.stack_info = (), None, None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install_gate(bootstrap: str, logger: logging.Logger | None = None) -> BrokerLogGate:
    """On every handler of the (root) logger: records propagated from the clients pass through it."""
    gate = BrokerLogGate(bootstrap)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(gate)
    return gate


class BrokerWatch:
    """Probe every `every` seconds; WARNING when the broker goes and when it comes back, then
    `on_back()` (e.g. the local-state check: a new memory-only broker is not the one we knew)."""

    def __init__(self, probe, what: str, every: float = 2.0,
                 on_back: Callable[[], Awaitable[None]] | None = None) -> None:
        self.probe, self.what, self.every, self.on_back = probe, what, every, on_back
        self.down_since: float | None = None

    async def step(self) -> None:
        reason = await self.probe.reason()
        if reason is not None and self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s; the %s stays up, its Kafka clients retry with backoff", reason, self.what)
        elif reason is None and self.down_since is not None:
            log.warning("broker %s reachable again after %.0f s", self.probe.bootstrap,
                        time.monotonic() - self.down_since)
            self.down_since = None
            if self.on_back is not None:
                await self.on_back()

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:      # the watch must never be what stops the process
                log.warning("broker watch: %s", exc)
            await asyncio.sleep(self.every)


def exit_when_stuck(probe, grace: float = 4.0) -> threading.Thread:
    """After a SIGTERM: if the process is still running `grace` seconds later and the broker does
    not answer, exit 0 (a daemon thread; a normal shutdown ends the process before it fires)."""

    def watchdog() -> None:
        time.sleep(grace)
        reason = probe.check()
        if reason is None:
            return                 # the broker answers: the normal shutdown is making progress
        log.warning("stopping on SIGTERM while %s: exiting now without the final offset commit "
                    "(nothing can be committed; uncommitted input is replayed idempotently after a restart)", reason)
        for handler in logging.getLogger().handlers:
            try:
                handler.flush()
            except Exception:
                pass
        os._exit(0)

    thread = threading.Thread(target=watchdog, name="sigterm-broker-watchdog", daemon=True)
    thread.start()
    return thread
