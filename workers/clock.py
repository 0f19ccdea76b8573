"""The worker's clock: real UTC time, or a fixed instant (BACKOFFICE_CLOCK=2026-11-24T19:00:00Z)
for demos and tests. The domain never reads a clock; the workers pass dates in."""
from __future__ import annotations

import datetime as dt
import os

UTC = dt.timezone.utc


def now() -> dt.datetime:
    fixed = os.environ.get("BACKOFFICE_CLOCK")
    if fixed:
        value = dt.datetime.fromisoformat(fixed.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return dt.datetime.now(UTC)


def today() -> dt.date:
    return now().date()
