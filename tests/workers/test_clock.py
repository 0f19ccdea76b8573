"""The movable test clock: a running worker's 'now' follows its clock file."""
import datetime as dt
import os

import pytest

from workers import clock
from workers.clock import FileClock, write_clock_file

UTC = dt.timezone.utc


def test_file_clock_follows_the_file_and_keeps_the_last_good_instant(tmp_path):
    path = tmp_path / "clock"
    write_clock_file(path, dt.datetime(2026, 9, 10, 12, tzinfo=UTC))
    source = FileClock(path)
    assert source.now() == dt.datetime(2026, 9, 10, 12, tzinfo=UTC)
    write_clock_file(path, dt.datetime(2026, 9, 15, 13, 30, tzinfo=UTC))
    assert source.now() == dt.datetime(2026, 9, 15, 13, 30, tzinfo=UTC)
    path.write_text("2026-09-1")              # a torn write: the last good instant stays
    os.utime(path, ns=(1, 1))
    assert source.now() == dt.datetime(2026, 9, 15, 13, 30, tzinfo=UTC)
    path.write_text("2026-10-01T00:00:00Z")   # "Z" and naive-less ISO forms are UTC
    assert source.now() == dt.datetime(2026, 10, 1, tzinfo=UTC)


def test_an_unreadable_clock_file_at_start_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="no readable instant"):
        FileClock(tmp_path / "missing").now()


def test_settings_choose_the_clock_file_over_the_fixed_clock(tmp_path, monkeypatch):
    path = tmp_path / "clock"
    write_clock_file(path, dt.datetime(2026, 9, 10, 12, tzinfo=UTC))
    monkeypatch.setenv("BACKOFFICE_CLOCK", "2030-01-01T00:00:00Z")
    monkeypatch.setenv("BACKOFFICE_CLOCK_FILE", str(path))
    try:
        clock.configure()
        assert clock.today() == dt.date(2026, 9, 10)
        write_clock_file(path, dt.datetime(2026, 9, 16, 1, tzinfo=UTC))
        assert clock.today() == dt.date(2026, 9, 16)
        monkeypatch.delenv("BACKOFFICE_CLOCK_FILE")
        clock.configure()
        assert clock.now() == dt.datetime(2030, 1, 1, tzinfo=UTC)
    finally:
        monkeypatch.delenv("BACKOFFICE_CLOCK", raising=False)
        monkeypatch.delenv("BACKOFFICE_CLOCK_FILE", raising=False)
        clock.configure()
