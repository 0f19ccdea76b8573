"""Two tenants with their own Invoice Setup in one deployment (issue 16, part 5), on a real worker
and the embedded broker, with the worker's clock moved through a file (workers/clock.py).

New York (week ending Saturday, delay 1, 09:30) falls back on 2026-11-01 and London (Sunday,
delay 2, 13:00) on 2026-10-25. The setups are made on Tuesday 2026-10-06, in the week
2026-10-05..11, which therefore keeps the deployment's default (UTC, Sunday, 2, 13:00); each
tenant's own calendar starts on 2026-10-12. Each window's run instant below is derived by hand
from the local wall clock (zoneinfo), and the test checks the scheduler closes every window at
that instant and not a scheduler cycle before, and nothing else (no cycle a tenant dropped).
A setup with an unknown zone, sent through the CLI, is refused with the reason."""
from __future__ import annotations

import datetime as dt
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cli.main import _load_commands, cli
from infra.admin import create_topics
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, BILLING_OUTCOMES
from simulator.records import account_record
from tests.workers.harness import WorkerProcess, produce, records_by, wait_drained, wait_until
from tests.workers.test_pipeline import command
from workers.clock import write_clock_file
from workers.names import ingest_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]
UTC = dt.timezone.utc
START = dt.datetime(2026, 10, 6, 10, tzinfo=UTC)


def local(day: str, at: str, zone: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{at}").replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def expected(ny: str, ldn: str) -> dict[str, dt.datetime]:
    """command id -> the instant the scheduler must close it."""
    default = {  # the week and the half-month and month open on 2026-10-06 keep the default setup (UTC)
        "WEEKLY:2026-10-04": local("2026-10-06", "13:00", "UTC"),
        "WEEKLY:2026-10-11": local("2026-10-13", "13:00", "UTC"),
        "SEMI_MONTHLY:2026-10-15": local("2026-10-17", "00:00", "UTC"),
        "MONTHLY:2026-10-31": local("2026-11-03", "00:00", "UTC"),
    }
    mine = {ny: {"WEEKLY:2026-10-17": local("2026-10-18", "09:30", "America/New_York"),   # 10-12..10-17
                 "WEEKLY:2026-10-24": local("2026-10-25", "09:30", "America/New_York"),
                 "WEEKLY:2026-10-31": local("2026-11-01", "09:30", "America/New_York")},  # after fall back
            ldn: {"WEEKLY:2026-10-18": local("2026-10-20", "13:00", "Europe/London"),
                  "WEEKLY:2026-10-25": local("2026-10-27", "13:00", "Europe/London"),       # after fall back
                  "WEEKLY:2026-11-01": local("2026-11-03", "13:00", "Europe/London")}}
    return {f"close:{t}:{w}": at for t in (ny, ldn) for w, at in {**default, **mine[t]}.items()}


def test_two_tenants_close_windows_on_their_own_calendars_across_dst(kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    app_id = f"t{uuid.uuid4().hex[:10]}"
    ny, ldn = f"{app_id}-ny", f"{app_id}-ldn"
    clock_file = tmp_path / "clock"
    write_clock_file(clock_file, START)
    worker = WorkerProcess(kafka_bootstrap, app_id, tmp_path, extra_env={
        "BACKOFFICE_CLOCK_FILE": str(clock_file), "BACKOFFICE_SCHEDULER_INTERVAL": "1",
        "BACKOFFICE_CATCH_UP_DAYS": "1", "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"),
        "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"), "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1"})
    produce(kafka_bootstrap, [(ATS_ACCOUNTS, f"{t}:acme".encode(), encode("AccountUpserted", account_record(t, "acme", "Acme")))
                              for t in (ny, ldn)])
    worker.start()
    try:
        wait_drained(kafka_bootstrap, app_id, ingest_topics(app_id))
        _load_commands()
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
        bad = CliRunner().invoke(cli, ["setup", "--tenant", ny, "--time-zone", "Mars/Olympus_Mons", "--timeout", "120"],
                                 env=env)
        assert bad.exit_code == 1 and "REFUSED" in bad.output and "Mars/Olympus_Mons" in bad.output, bad.output
        good = CliRunner().invoke(cli, ["setup", "--tenant", ny, "--time-zone", "America/New_York", "--week-ending-day",
                                        "SATURDAY", "--invoice-delay", "1", "--preferred-start-time", "09:30",
                                        "--cycles", "WEEKLY", "--timeout", "120"], env=env)
        assert good.exit_code == 0 and "2026-10-12" in good.output, good.output + worker.log()[-2000:]
        produce(kafka_bootstrap, [command(ldn, f"setup-{ldn}", "SET_INVOICE_SETUP", time_zone="Europe/London",
                                          week_ending_day="SUNDAY", invoice_delay_days=2,
                                          preferred_start_time="13:00", cycles=["WEEKLY"])])
        answer = wait_until(lambda: records_by(kafka_bootstrap, BILLING_OUTCOMES, "command_id",
                                               {f"setup-{ldn}"}).get(f"setup-{ldn}"), 120, message="London's setup")
        assert answer[-1]["ok"], answer

        want = expected(ny, ldn)
        every_close = lambda: {cid for cid in records_by(kafka_bootstrap, BILLING_OUTCOMES, "command_id",  # noqa: E731
                                                          _all_closes(ny, ldn))}
        for run_at in sorted(set(want.values())):
            write_clock_file(clock_file, run_at - dt.timedelta(minutes=1))
            due = {cid for cid, at in want.items() if at < run_at}
            wait_until(lambda: due <= every_close(), 120,
                       message=f"{sorted(due - every_close())} before {run_at}; log:\n{worker.log()[-2000:]}")
            time.sleep(2.5)                                         # two scheduler cycles and more, a minute early
            early = every_close() - due
            assert not early, f"closed before {run_at}: {sorted(early)}"
            write_clock_file(clock_file, run_at + dt.timedelta(minutes=1))
        wait_until(lambda: set(want) <= every_close(), 120, message="the last windows")
        time.sleep(3)
        assert every_close() == set(want)                           # nothing else: no dropped cycle, no default week
    finally:
        worker.stop()


def _all_closes(*tenants):
    """Every close command id a tenant could get in these weeks, on any calendar (the test's net)."""
    class Anything:
        def __contains__(self, cid):
            return isinstance(cid, str) and cid.startswith("close:") and cid.split(":")[1] in tenants
    return Anything()
