"""Login attempts: after LIMITS[kind] wrong ones within WINDOW seconds for the same user (5) or
from the same address (20: an office behind one address shares it), further attempts are
refused until the window has passed, so a password or token cannot be guessed at the speed of
the network. Kept per console process."""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

LIMITS = {"user": 5, "address": 20}
WINDOW = 15 * 60


class LoginThrottle:
    def __init__(self, limits: dict[str, int] | None = None, window: float = WINDOW, clock=time.monotonic) -> None:
        self.limits, self.window, self.clock = limits or LIMITS, window, clock
        self._failures: dict[tuple, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple) -> deque:
        failures, now = self._failures[key], self.clock()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def wait_seconds(self, *keys: tuple) -> float:
        """0 when an attempt may be made; else how long until it may."""
        with self._lock:
            waits = [recent[0] + self.window - self.clock() for key in keys
                     if len(recent := self._recent(key)) >= self.limits[key[0]]]
        return max(waits, default=0.0)

    def failed(self, *keys: tuple) -> None:
        with self._lock:
            for key in keys:
                self._recent(key).append(self.clock())

    def succeeded(self, *keys: tuple) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
