import io
import json
import logging

from ops.logs import log_context, make_handler, redact


def _logger(stream):
    logger = logging.getLogger(f"test-logs-{id(stream)}")
    logger.handlers[:] = [make_handler("json", stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_json_lines_carry_the_event_context():
    out = io.StringIO()
    log = _logger(out)
    with log_context(tenant_id="acme", topic="ats.timesheets", partition=3, offset=41, event_id="e-1"):
        with log_context(invoice_id="inv-9"):
            log.info("invoiced %s", "line-1")
    log.info("outside")
    first, second = (json.loads(x) for x in out.getvalue().splitlines())
    assert first["message"] == "invoiced line-1" and first["level"] == "INFO"
    assert (first["tenant_id"], first["topic"], first["partition"], first["offset"], first["event_id"],
            first["invoice_id"]) == ("acme", "ats.timesheets", 3, 41, "e-1", "inv-9")
    assert "tenant_id" not in second


def test_tokens_passwords_and_account_numbers_never_reach_the_log():
    out = io.StringIO()
    log = _logger(out)
    log.info("refresh with refresh_token=%s then Authorization: Bearer %s", "AB12-secret-rt", "eyJhbGciOi.xyz.sig")
    log.warning("smtp login failed password=%s", "hunter2")
    log.error("payout to IBAN GB82 WEST 1234 5698 7654 32 card 4111 1111 1111 1111 failed")
    try:
        raise RuntimeError('token refresh failed: {"access_token": "at-123456", "expires_in": 3600}')
    except RuntimeError:
        log.exception("oauth")
    text = out.getvalue()
    for secret in ("AB12-secret-rt", "eyJhbGciOi", "hunter2", "WEST 1234", "4111 1111 1111", "at-123456"):
        assert secret not in text, secret
    assert "1111" in text and "5432" in text                      # last four kept for support staff
    assert redact("client_secret: s3cr3t") == "client_secret: [REDACTED]"
    # a Python dict logged as it is (single quotes): the token endpoint's answer, a settings dump
    said = redact(str({"access_token": "at-9f8e7d", "refresh_token": "rt-1a2b3c", "expires_in": 1800}))
    assert "at-9f8e7d" not in said and "rt-1a2b3c" not in said and "1800" in said, said
    assert redact("password='hunter2'") == "password='[REDACTED]'"


# The worker's own logging set-up (Faust's Worker, then ours), in a process of its own so
# that replacing the root logger's handlers does not touch pytest's. It logs what an agent
# failure logs: log.exception inside a log_context and outside any, arguments holding '%',
# a message that is not a str.
_WORKER_LOGGING = r'''
import logging
from ops.logs import log_context
from workers.app import app
from workers.main import worker_class

worker = worker_class()(app, loglevel="info", quiet=True)
worker._setup_logging()          # what Worker.execute_from_commandline runs before the app starts
log = logging.getLogger("workers.agents_windows")


def fail():
    raise RuntimeError("boom in the agent, 100% broken")


with log_context(tenant_id="acme", topic="ats.timesheets", partition=3, offset=41):
    try:
        fail()
    except RuntimeError:
        log.exception("agent %s crashed on offset %d", "assemble_windows", 41)
try:
    fail()
except RuntimeError:
    log.exception("crashed outside any context")
log.warning("progress %s of %d%%", "50%", 100)
log.error(ValueError("a message that is not a str"))
'''
FAILURE = "RuntimeError: boom in the agent, 100% broken"


def _run_worker_logging(fmt: str, tmp_path) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BACKOFFICE_LOG_FORMAT": fmt, "BACKOFFICE_DATA_DIR": str(tmp_path), "BACKOFFICE_WEB": "0",
           "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", _WORKER_LOGGING], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "--- Logging error ---" not in output, output
    return output


def _text_records(output: str) -> list[str]:
    """Each record: its line, plus the traceback lines that follow it."""
    import re

    return [r for r in re.split(r"(?m)^(?=\[\d{4}-\d\d-\d\d )", output) if r.strip()]


def test_the_workers_json_lines_carry_an_agent_failure_and_its_traceback(tmp_path):
    output = _run_worker_logging("json", tmp_path)
    records = {}
    for line in output.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records[record["message"]] = record
    inside = records["agent assemble_windows crashed on offset 41"]
    assert inside["level"] == "ERROR" and (inside["tenant_id"], inside["offset"]) == ("acme", 41)
    assert "Traceback (most recent call last)" in inside["exc_info"] and FAILURE in inside["exc_info"]
    outside = records["crashed outside any context"]
    assert FAILURE in outside["exc_info"] and "tenant_id" not in outside
    assert records["progress 50% of 100%"]["level"] == "WARNING"
    assert records["a message that is not a str"]["level"] == "ERROR"


def test_the_workers_text_lines_carry_an_agent_failure_and_its_traceback(tmp_path):
    records = _text_records(_run_worker_logging("text", tmp_path))

    def record(message: str) -> str:
        found = [r for r in records if f": {message}" in r.splitlines()[0]]
        assert len(found) == 1, (message, records)
        return found[0]

    inside = record("agent assemble_windows crashed on offset 41")
    first, traceback = inside.splitlines()[0], inside.splitlines()[1:]
    assert " ERROR workers.agents_windows: " in first and "tenant_id=acme" in first and "offset=41" in first
    assert traceback[0] == "Traceback (most recent call last):" and traceback[-1] == FAILURE
    outside = record("crashed outside any context")
    assert "tenant_id=" not in outside.splitlines()[0] and outside.splitlines()[-1] == FAILURE
    assert " WARNING " in record("progress 50% of 100%")
    assert " ERROR " in record("a message that is not a str")
