"""Every Prometheus metric of the project, in one place.

Consumer lag uses kafka-lag-exporter's names and labels, so its dashboards and alerts
work unchanged; the project's own metrics carry a `backoffice_` prefix and base units.
Lag is sampled by a background thread (`LagPoller`) and served from its last snapshot,
so a scrape never waits on the broker.
"""
from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from collections import defaultdict, deque

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

EVENTS_CONSUMED = Counter("backoffice_events_consumed_total", "ATS events consumed by the workers.", ["topic"])
AGENT_FAILURES = Counter("backoffice_agent_failures_total",
                         "Messages whose handling failed for a reason other than the message: the worker stopped.",
                         ["agent"])
SETTLE_REFUSED = Counter("backoffice_settle_refused_total",
                         "Lines a window drew that were already on another invoice (refused, not billed twice).")
DEAD_LETTERED = Counter("backoffice_dead_lettered_total", "Messages sent to a dead-letter topic.", ["topic", "reason"])
PAY_LINES = Gauge("backoffice_pay_lines", "Pay lines held by this worker's ledger partitions, by status.", ["status"])
WINDOWS_CLOSED = Counter("backoffice_windows_closed_total", "Batch windows generated (scheduled or on demand).",
                         ["outcome"])
INVOICES_GENERATED = Counter("backoffice_invoices_generated_total", "Invoices and credit memos generated.", ["kind"])
DOCUMENTS_RENDERED = Counter("backoffice_documents_rendered_total", "PDF documents rendered.", ["kind"])
RENDER_SECONDS = Histogram("backoffice_document_render_seconds", "Time to render one document's PDFs.")
EMAILS_SENT = Counter("backoffice_emails_sent_total", "Invoice emails, by outcome.", ["outcome"])
SYNCS = Counter("backoffice_syncs_total", "AR/GL syncs, by system and outcome.", ["system", "outcome"])
SYNC_SECONDS = Histogram("backoffice_sync_latency_seconds", "Time to put one document into an AR/GL system.",
                         ["system"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
RETRIES = Counter("backoffice_retries_total", "Retried calls to external systems.", ["system"])
HTTP_429 = Counter("backoffice_http_429_total", "HTTP 429 (rate limited) answers seen.", ["system"])


def record_sync(system: str, outcome: str, seconds: float) -> None:
    SYNCS.labels(system, outcome).inc()
    SYNC_SECONDS.labels(system).observe(seconds)


def record_retry(system: str) -> None:
    RETRIES.labels(system).inc()


def record_429(system: str) -> None:
    HTTP_429.labels(system).inc()


class _OffsetClock:
    """Per partition: (log-end offset, time) samples, to estimate how old a committed offset is
    (kafka-lag-exporter's interpolation table)."""

    def __init__(self, size: int = 60) -> None:
        self.points: dict[tuple[str, int], deque[tuple[int, float]]] = defaultdict(lambda: deque(maxlen=size))

    def add(self, key: tuple[str, int], offset: int, at: float) -> None:
        pts = self.points[key]
        if not pts or offset > pts[-1][0]:
            pts.append((offset, at))

    def lag_seconds(self, key: tuple[str, int], committed: int, log_end: int, now: float) -> float:
        if committed >= log_end:
            return 0.0
        pts = list(self.points[key])
        if not pts:
            return 0.0
        offsets = [o for o, _ in pts]
        i = bisect.bisect_right(offsets, committed)
        if i == 0:                         # older than anything seen: at least as old as the oldest sample
            return max(0.0, now - pts[0][1])
        if i >= len(pts):
            return 0.0
        (o0, t0), (o1, t1) = pts[i - 1], pts[i]
        produced_at = t0 + (t1 - t0) * (committed - o0) / max(1, o1 - o0)
        return max(0.0, now - produced_at)


class LagPoller:
    """Samples the project's groups every `interval` seconds on a daemon thread."""

    def __init__(self, bootstrap: str, groups: list[str] | None = None, interval: float = 15.0) -> None:
        self.bootstrap, self.groups, self.interval = bootstrap, groups, interval
        self.clock = _OffsetClock()
        self.last: list = []
        self.last_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> None:
        from ops.lag import snapshot

        groups = snapshot(self.bootstrap, self.groups)
        now = time.time()
        for g in groups:
            for p in g.partitions:
                self.clock.add((p.topic, p.partition), p.log_end, now)
        self.last, self.last_at = groups, now

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:      # the broker may be away for a while: keep the last snapshot
                log.warning("lag poll failed: %s", exc)
            self._stop.wait(self.interval)

    def start(self) -> "LagPoller":
        self._thread = threading.Thread(target=self._run, name="lag-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def collect(self):
        lag = GaugeMetricFamily("kafka_consumergroup_group_lag", "Group offset lag of a partition",
                                labels=["group", "topic", "partition"])
        lag_s = GaugeMetricFamily("kafka_consumergroup_group_lag_seconds", "Group time lag of a partition",
                                  labels=["group", "topic", "partition"])
        offset = GaugeMetricFamily("kafka_consumergroup_group_offset", "Last group consumed offset of a partition",
                                   labels=["group", "topic", "partition"])
        latest = GaugeMetricFamily("kafka_partition_latest_offset", "Latest offset of a partition",
                                   labels=["topic", "partition"])
        max_lag = GaugeMetricFamily("kafka_consumergroup_group_max_lag", "Max group offset lag", labels=["group"])
        max_lag_s = GaugeMetricFamily("kafka_consumergroup_group_max_lag_seconds", "Max group time lag",
                                      labels=["group"])
        sum_lag = GaugeMetricFamily("kafka_consumergroup_group_sum_lag", "Sum of group offset lag across topic "
                                    "partitions", labels=["group", "topic"])
        seen_latest = set()
        for g in self.last:
            secs_max, lag_max, sums = 0.0, 0, defaultdict(int)
            for p in g.partitions:
                labels = [g.group, p.topic, str(p.partition)]
                secs = self.clock.lag_seconds((p.topic, p.partition), p.committed, p.log_end, self.last_at)
                lag.add_metric(labels, p.lag)
                lag_s.add_metric(labels, secs)
                offset.add_metric(labels, max(p.committed, 0))
                if (p.topic, p.partition) not in seen_latest:
                    seen_latest.add((p.topic, p.partition))
                    latest.add_metric([p.topic, str(p.partition)], p.log_end)
                secs_max, lag_max = max(secs_max, secs), max(lag_max, p.lag)
                sums[p.topic] += p.lag
            max_lag.add_metric([g.group], lag_max)
            max_lag_s.add_metric([g.group], secs_max)
            for topic, total in sums.items():
                sum_lag.add_metric([g.group, topic], total)
        return [lag, lag_s, offset, latest, max_lag, max_lag_s, sum_lag]

    def describe(self):
        return []          # collected lazily: no samples at registration time


_poller: LagPoller | None = None


def start_lag_metrics(bootstrap: str, groups: list[str] | None = None, interval: float = 15.0) -> LagPoller:
    """Start (once per process) the lag poller and register it with the default registry."""
    global _poller
    if _poller is None:
        _poller = LagPoller(bootstrap, groups, interval).start()
        REGISTRY.register(_poller)
    return _poller


def start_metrics_server(port: int, bootstrap: str | None = None) -> None:
    """/metrics for processes without a web server of their own (the connectors)."""
    start_http_server(port, addr=os.environ.get("BACKOFFICE_METRICS_HOST", "127.0.0.1"))
    if bootstrap:
        start_lag_metrics(bootstrap)
