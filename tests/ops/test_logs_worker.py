"""A real worker with BACKOFFICE_LOG_FORMAT=text: its log carries the messages, not
logging errors (the redaction filter and Faust's text formatter used to fight over a
record's arguments, so every formatted line became "--- Logging error ---")."""
import uuid

import pytest

from infra.admin import create_topics
from schemas.topics import ATS_PLACEMENTS
from tests.workers.harness import WorkerProcess, produce, wait_until

pytestmark = pytest.mark.integration


def test_a_text_logging_worker_writes_its_dead_letter_warning_with_context(kafka_bootstrap, tmp_path):
    create_topics(kafka_bootstrap)
    app_id = f"t{uuid.uuid4().hex[:10]}"
    tenant = f"{app_id}-logs"
    worker = WorkerProcess(kafka_bootstrap, app_id, tmp_path, extra_env={
        "BACKOFFICE_LOG_FORMAT": "text", "BACKOFFICE_SCHEDULER_INTERVAL": "3600"}).start()
    try:
        produce(kafka_bootstrap, [(ATS_PLACEMENTS, f"{tenant}:p1".encode(), b"\x00 not avro, 100% garbage")])

        def warning_line():
            return next((line for line in worker.log().splitlines()
                         if "WARNING workers.deadletter: dead-lettered ats.placements[" in line
                         and f"tenant_id={tenant}" in line), None)
        line = wait_until(warning_line, 120, message=f"the dead-letter warning; log:\n{worker.log()[-3000:]}")
        assert "DecodeError" in line and "offset=" in line, line
        assert "--- Logging error ---" not in worker.log() and "getMessage" not in worker.log(), worker.log()[-3000:]
    finally:
        worker.stop()
