"""The worker's clock: real UTC time, or for demos and tests a fixed instant
(BACKOFFICE_CLOCK=2026-11-24T19:00:00Z) or a movable one (BACKOFFICE_CLOCK_FILE=path to a
file holding the instant; re-read when the file changes, so a test can move a running
worker's time forward without a restart). The domain never reads a clock; the workers
pass dates in."""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

UTC = dt.timezone.utc
log = logging.getLogger(__name__)


def parse_instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class FileClock:
    """The instant written in a file. The file is stat'ed on every read and parsed only when
    its (mtime, size, inode) changed; an unreadable or half-written file keeps the last good
    instant (writers should replace the file atomically, see `write_clock_file`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._value: dt.datetime | None = None

    def now(self) -> dt.datetime:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                self._value, self._stamp = parse_instant(self.path.read_text()), stamp
        except (OSError, ValueError) as exc:
            if self._value is None:
                raise RuntimeError(f"BACKOFFICE_CLOCK_FILE {self.path}: no readable instant ({exc})") from exc
            log.warning("clock file %s unreadable (%s); keeping %s", self.path, exc, self._value.isoformat())
        return self._value


def write_clock_file(path: Path, instant: dt.datetime) -> None:
    """Move a FileClock: write a sibling file and rename it over `path` (readers never see half a write)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(instant.isoformat())
    os.replace(tmp, path)


_source: FileClock | dt.datetime | None = None
_configured = False


def configure() -> None:
    """Read BACKOFFICE_CLOCK_FILE / BACKOFFICE_CLOCK from the settings (once per process; again
    after a test changes them)."""
    global _source, _configured
    from infra.settings import load_settings

    settings = load_settings()
    if settings.clock_file:
        _source = FileClock(settings.clock_file)
    elif settings.clock:
        _source = parse_instant(settings.clock)
    else:
        _source = None
    _configured = True


def now() -> dt.datetime:
    if not _configured:
        configure()
    if isinstance(_source, FileClock):
        return _source.now()
    if _source is not None:
        return _source
    return dt.datetime.now(UTC)


def today() -> dt.date:
    return now().date()
