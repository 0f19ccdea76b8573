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
