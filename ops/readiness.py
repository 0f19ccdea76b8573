"""Is the broker reachable? One cheap metadata request, run off the event loop with a short
timeout and remembered a few seconds, so a burst of /readyz probes costs one round trip."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from confluent_kafka.admin import AdminClient


class BrokerProbe:
    def __init__(self, bootstrap: str, timeout: float = 2.0, ttl: float = 5.0) -> None:
        self.bootstrap, self.timeout, self.ttl = bootstrap, timeout, ttl
        self._admin: AdminClient | None = None
        self._reason: str | None = None
        self._at: float | None = None
        self._lock: asyncio.Lock | None = None

    def check(self) -> str | None:
        """None when a broker answered a metadata request, else why not (blocking)."""
        try:
            if self._admin is None:
                self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})   # the reason says it
            brokers = self._admin.list_topics(timeout=self.timeout).brokers
        except Exception as exc:    # KafkaException (timeout, transport), bad config: all mean "not ready"
            return f"broker {self.bootstrap} unreachable: {exc}"
        return None if brokers else f"broker {self.bootstrap} answered without any broker in its metadata"

    def cached_check(self) -> str | None:
        """check(), remembered `ttl` seconds (for a threaded server: no event loop there)."""
        if not self._fresh():
            self._reason, self._at = self.check(), time.monotonic()
        return self._reason

    def _fresh(self) -> bool:
        return self._at is not None and time.monotonic() - self._at < self.ttl

    async def reason(self) -> str | None:
        if self._fresh():
            return self._reason
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:          # concurrent probes wait for the one request in flight
            if not self._fresh():
                self._reason = await asyncio.get_running_loop().run_in_executor(None, self.check)
                self._at = time.monotonic()
        return self._reason


def serve_probes(port: int, probe: BrokerProbe, addr: str = "127.0.0.1") -> ThreadingHTTPServer:
    """/healthz, /readyz and /metrics for a process without a web server of its own (the connectors):
    /readyz is 503 with the reason while the broker does not answer; any other path is /metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:          # noqa: N802 (http.server's name)
            status, ctype = 200, "application/json"
            if self.path.startswith("/healthz"):
                body = b'{"status": "ok"}'
            elif self.path.startswith("/readyz"):
                reason = probe.cached_check()
                status = 200 if reason is None else 503
                body = json.dumps({"ready": reason is None, "reasons": [reason] if reason else []}).encode()
            else:
                body, ctype = generate_latest(), CONTENT_TYPE_LATEST
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:      # probes every few seconds: not worth a log line each
            pass

    server = ThreadingHTTPServer((addr, port), Handler)
    threading.Thread(target=server.serve_forever, name="probe-server", daemon=True).start()
    return server
