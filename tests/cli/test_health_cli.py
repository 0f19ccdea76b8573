"""`backoffice health`: the latest health check's findings from the read model, the same answer as
the ops API's /health (two outputs of one read), for people and for scripts."""
from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import cli
from readmodel.db import engine_for, migrate
from tests.api.conftest import auth, fill, make_client, world


def _run(tmp_path, *args):
    env = {"BACKOFFICE_DATABASE_URL": f"sqlite:///{tmp_path / 'readmodel.sqlite3'}", "KAFKA_BOOTSTRAP_SERVERS": ""}
    result = CliRunner().invoke(cli, ["health", *args, "--no-wait"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_health_says_the_latest_checks_findings_as_the_api_does(tmp_path):
    client, _, app = make_client(tmp_path, world())
    try:
        by_api = {t: client.get(f"/api/v1/tenants/{t}/health", headers=auth("root-token")).json() for t in ("ta", "tb")}
        assert all(a.pop("coverage") == "complete" for a in by_api.values())     # the API's own note
        by_cli = {t: json.loads(_run(tmp_path, "--tenant", t, "--json")) for t in ("ta", "tb")}
        assert by_cli == by_api
        # the world's last check of ta (g-1) warned that its AP contact has no e-mail; tb's passed
        assert [(f["severity"], f["code"]) for f in by_cli["ta"]["findings"]] == [("WARNING", "AP_CONTACT_NO_EMAIL")]
        table = _run(tmp_path, "--tenant", "ta")
        assert "g-1" in table and "warnings only" in table and "AP_CONTACT_NO_EMAIL" in table
        assert "passed" in _run(tmp_path, "--tenant", "tb")
    finally:
        app.state.engine.dispose()


def test_a_tenant_no_check_has_run_for_is_told_so(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'readmodel.sqlite3'}")
    migrate(engine)
    fill(engine, world())
    engine.dispose()
    assert "no health check has run yet for tc" in _run(tmp_path, "--tenant", "tc")
