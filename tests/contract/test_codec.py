import copy
from pathlib import Path
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import Codec, DecodeError, EncodeError, SCHEMA_DIR, decode, default_codec, encode, load_schema
from tests.avro_strategies import strategy_for

RAW_SCHEMAS = {json.loads(p.read_text())["name"]: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.avsc")}


def test_every_schema_is_documented_versioned_and_carries_tenant_and_event_ids():
    assert len(RAW_SCHEMAS) >= 9
    for name, raw in RAW_SCHEMAS.items():
        assert raw["namespace"] == "backoffice.events"
        assert isinstance(raw["x-version"], int), f"{name} has no x-version"
        assert raw["doc"].split(" ")[1] == f"v{raw['x-version']}:", f"{name}'s doc does not state its version"
        fields = {f["name"]: f for f in raw["fields"]}
        assert "event_id" in fields and "tenant_id" in fields, name
        for f in raw["fields"]:
            assert f.get("doc"), f"{name}.{f['name']} is undocumented"


def test_money_fields_are_avro_decimals():
    invoice = next(r for n, r in RAW_SCHEMAS.items() if n == "InvoiceEvent")
    for field in ("subtotal", "tax", "total"):
        t = next(f for f in invoice["fields"] if f["name"] == field)["type"]
        assert t == {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}


@pytest.mark.parametrize("record_name", sorted(RAW_SCHEMAS))
def test_every_schema_round_trips(record_name):
    raw = RAW_SCHEMAS[record_name]
    schema_name = record_name

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(strategy_for(copy.deepcopy(raw)))
    def round_trip(record):
        payload = encode(schema_name, record)
        assert payload[:2] == b"\xc3\x01"
        decoded = decode(payload, topic="t", partition=0, offset=1)
        assert decoded.schema_name == schema_name
        assert decoded.record == record

    round_trip()


def _sync_result_v2():
    raw = copy.deepcopy(RAW_SCHEMAS["SyncResult"])
    raw["x-version"] = 2
    raw["fields"].append({"name": "ledger_url", "type": ["null", "string"], "default": None,
                          "doc": "Link to the document in the AR/GL system."})
    return raw


def _sync_record(**extra):
    import datetime as dt
    rec = {"event_id": "e1", "tenant_id": "t1", "occurred_at": dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc),
           "invoice_id": "inv-1", "number": "1001", "system": "xero", "external_id": "X-1", "status": "SYNCED",
           "error": None, "attempts": 1}
    rec.update(extra)
    return rec


def test_a_v1_consumer_reads_a_v2_message_that_adds_an_optional_field():
    v1, v2 = load_schema(RAW_SCHEMAS["SyncResult"]), load_schema(_sync_result_v2())
    producer = Codec([v1, v2])                       # writes the newest: v2
    consumer = Codec([v1, v2], readers={"SyncResult": 1})
    payload = producer.encode("SyncResult", _sync_record(ledger_url="https://ledger/X-1"))
    assert payload[2:10] == v2.fingerprint
    decoded = consumer.decode(payload)
    assert decoded.record == _sync_record()
    assert "ledger_url" not in decoded.record


def test_a_v2_consumer_reads_a_v1_message_with_the_new_field_defaulted():
    v1, v2 = load_schema(RAW_SCHEMAS["SyncResult"]), load_schema(_sync_result_v2())
    old_producer = Codec([v1])
    consumer = Codec([v1, v2])
    decoded = consumer.decode(old_producer.encode("SyncResult", _sync_record()))
    assert decoded.record == _sync_record(ledger_url=None)


def test_unknown_fingerprint_names_topic_partition_offset():
    payload = bytearray(encode("SyncResult", _sync_record()))
    payload[2:10] = b"\x00" * 8
    with pytest.raises(DecodeError) as err:
        decode(bytes(payload), topic="billing.sync", partition=3, offset=42)
    assert "unknown schema fingerprint" in str(err.value)
    assert (err.value.topic, err.value.partition, err.value.offset) == ("billing.sync", 3, 42)
    assert "billing.sync[3]@42" in str(err.value)


@pytest.mark.parametrize("payload", [b"", b"\xc3", b"{\"json\": true}", b"\xc3\x01\x01\x02"])
def test_non_avro_payloads_raise_decode_error(payload):
    with pytest.raises(DecodeError):
        decode(payload, topic="ats.fees", partition=0, offset=0)


def test_truncated_body_raises_decode_error():
    payload = encode("SyncResult", _sync_record())
    with pytest.raises(DecodeError) as err:
        decode(payload[:-5], topic="billing.sync", partition=0, offset=7)
    assert "corrupt or truncated" in str(err.value)


def test_trailing_garbage_is_refused():
    with pytest.raises(DecodeError):
        decode(encode("SyncResult", _sync_record()) + b"junk")


def test_encode_refuses_a_record_that_does_not_match():
    with pytest.raises(EncodeError):
        encode("SyncResult", {"event_id": "x"})
    with pytest.raises(EncodeError):
        encode("NoSuchEvent", {})


def test_default_codec_knows_every_shipped_schema():
    assert set(default_codec().schema_names()) == set(RAW_SCHEMAS)


def test_invoice_event_v2_is_a_compatible_evolution_of_v1():
    """v1 (kept in schemas/avro/history) events decode as v2 with the figures defaulted, and a v1
    consumer still reads v2 events; the committed fixtures were written with v1 before the change."""
    import datetime as dt

    from backoffice.figures import settle
    from schemas.mapping import invoice_to_record
    from tests.documents import factories

    v1 = load_schema(json.loads((SCHEMA_DIR / "history" / "billing_invoices.v1.avsc").read_text()))
    v2 = load_schema(RAW_SCHEMAS["InvoiceEvent"])
    assert (v1.version, v2.version) == (1, 2)
    old = (Path(__file__).parent / "fixtures" / "invoice_generated_v1_invoice.avro").read_bytes()
    assert old[2:10] == v1.fingerprint
    record = decode(old).record
    assert record["allocations"] == [] and all(ln["tax_share"] is None for ln in record["lines"])
    new = encode("InvoiceEvent", invoice_to_record(settle(factories.credit_memo()), event_id="e", event_type="GENERATED",
                                                   occurred_at=dt.datetime(2026, 3, 17, tzinfo=dt.timezone.utc)))
    as_v1 = Codec([v1, v2], readers={"InvoiceEvent": 1}).decode(new).record
    assert "allocations" not in as_v1 and "tax_share" not in as_v1["lines"][0]
