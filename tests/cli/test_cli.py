import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli.main import _load_commands, cli


def _all_commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if hasattr(cmd, "commands"):
            yield from _all_commands(cmd, prefix + (name,))


def test_every_command_has_help():
    _load_commands()
    runner = CliRunner()
    commands = list(_all_commands(cli))
    assert {("broker",), ("simulate",), ("demo",), ("topics", "create")} <= set(commands)
    for path in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        assert cli.get_command(None, path[0]).help or cli.get_command(None, path[0]).short_help


def test_bad_setting_is_a_clear_message_not_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "cli.main", "topics", "create"], capture_output=True, text=True,
                          env={"BACKOFFICE_TIMEZONE": "Mars/Olympus", "KAFKA_BOOTSTRAP_SERVERS": "nohostport",
                               "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "BACKOFFICE_TIMEZONE" in proc.stderr and "unknown time zone" in proc.stderr
    assert "KAFKA_BOOTSTRAP_SERVERS" in proc.stderr


@pytest.mark.integration
def test_simulate_publishes_to_a_real_broker_and_reports_counts(kafka_bootstrap, tmp_path, monkeypatch):
    from infra.admin import create_topics
    from infra.readback import read_to_end

    create_topics(kafka_bootstrap)
    before = sum(1 for _ in read_to_end(kafka_bootstrap, "ats.placements"))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    expected = tmp_path / "expected.json"
    result = CliRunner().invoke(cli, ["simulate", "--tenants", "2", "--placements", "5", "--weeks", "2",
                                      "--expected", str(expected)])
    assert result.exit_code == 0, result.output
    assert "ats.placements" in result.output and expected.exists()
    after = sum(1 for _ in read_to_end(kafka_bootstrap, "ats.placements"))
    assert after - before == 10
