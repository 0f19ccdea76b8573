import datetime as dt
from decimal import Decimal

import pytest

from infra.admin import create_topics
from infra.readback import read_to_end
from schemas.codec import decode
from schemas.topics import ATS_ACCOUNTS, dead_letter_topic
from tests.workers.harness import WorkerProcess, produce, produce_records, read_table, wait_until

pytestmark = pytest.mark.integration
UTC = dt.timezone.utc


def _account(entity_id, version, name=None, parent=None, kind="COMPANY"):
    return {"event_id": f"e-{entity_id}-{version}", "tenant_id": "t1", "occurred_at": dt.datetime(2026, 1, 1, tzinfo=UTC),
            "entity_type": kind, "entity_id": entity_id, "parent_id": parent, "account_name": name,
            "ap_contact": None, "address": None, "invoicing_mode": "SEMI_AUTOMATIC", "net_terms_days": 30,
            "tax_rate": Decimal("0"), "default_template": None, "currency": "USD", "version": version}


def test_accounts_land_in_the_tenant_billto_table_and_garbage_is_dead_lettered(kafka_bootstrap, tmp_path, unique_name):
    create_topics(kafka_bootstrap)
    produce_records(kafka_bootstrap, [
        (ATS_ACCOUNTS, f"t1:{unique_name}", "AccountUpserted", _account(unique_name, 2, "Acme v2")),
        (ATS_ACCOUNTS, f"t1:{unique_name}", "AccountUpserted", _account(unique_name, 1, "Acme v1 (stale replay)")),
        (ATS_ACCOUNTS, f"t1:{unique_name}-cl", "AccountUpserted",
         _account(f"{unique_name}-cl", 1, None, parent=unique_name, kind="CLIENT")),
    ])
    produce(kafka_bootstrap, [(ATS_ACCOUNTS, f"t1:{unique_name}-bad".encode(), b"\x00not avro")])
    worker = WorkerProcess(kafka_bootstrap, unique_name, tmp_path).start()
    try:
        table = wait_until(lambda: (t := read_table(kafka_bootstrap, unique_name, "billto")) and len(t) >= 2 and t,
                           120, message="billto changelog")
        node = table[f"t1:{unique_name}".encode()]
        assert node.account_name == "Acme v2" and node.version == 2
        assert table[f"t1:{unique_name}-cl".encode()].parent_id == unique_name
        bad_key = f"t1:{unique_name}-bad".encode()       # the DLQ topic is shared with the session's other tests
        letters = wait_until(lambda: [m for m in read_to_end(kafka_bootstrap, dead_letter_topic(ATS_ACCOUNTS))
                                      if m.key() == bad_key], 120, message="dead letter")
        record = decode(letters[-1].value()).record
        assert record["original_value"] == b"\x00not avro"
        assert record["error_type"] == "DecodeError" and "single-object" in record["error"]
        assert record["original_topic"] == ATS_ACCOUNTS
        assert worker.alive(), worker.log()
    finally:
        worker.stop()
