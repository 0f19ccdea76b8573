"""Registry mode: Confluent wire format through confluent-kafka's schema-registry client,
against a loopback registry speaking the Confluent REST API."""
import copy

import pytest
from hypothesis import HealthCheck, given, settings

from schemas.codec import Codec, DecodeError, default_codec, load_schema, load_schema_dir
from schemas.registry import RegistryCodec
from tests.avro_strategies import strategy_for
from tests.contract.registry_server import RegistryServer
from tests.contract.test_codec import RAW_SCHEMAS, _sync_record, _sync_result_v2


@pytest.fixture(scope="module")
def registry():
    with RegistryServer() as server:
        yield server


@pytest.mark.parametrize("record_name", sorted(RAW_SCHEMAS))
def test_every_schema_round_trips_in_the_confluent_wire_format(registry, record_name):
    producer = RegistryCodec(registry.url, Codec(load_schema_dir()))

    @settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
              deadline=None)
    @given(strategy_for(copy.deepcopy(RAW_SCHEMAS[record_name])))
    def round_trip(record):
        payload = producer.encode(record_name, record)
        assert payload[0] == 0
        schema_id = int.from_bytes(payload[1:5], "big")
        assert registry.registry.subjects[producer.subject(record_name)] == [schema_id]
        consumer = RegistryCodec(registry.url, Codec(load_schema_dir()))     # fresh client, empty cache
        decoded = consumer.decode(payload, topic="t", partition=0, offset=3)
        assert decoded.schema_name == record_name and decoded.record == record

    round_trip()


def test_evolution_both_ways_through_the_registry(registry):
    v1, v2 = load_schema(RAW_SCHEMAS["SyncResult"]), load_schema(_sync_result_v2())
    new_producer = RegistryCodec(registry.url, Codec([v1, v2]))
    old_consumer = RegistryCodec(registry.url, Codec([v1, v2], readers={"SyncResult": 1}))
    decoded = old_consumer.decode(new_producer.encode("SyncResult", _sync_record(ledger_url="https://l/X-1")))
    assert decoded.record == _sync_record()
    old_producer = RegistryCodec(registry.url, Codec([v1]))
    new_consumer = RegistryCodec(registry.url, Codec([v1, v2]))
    assert new_consumer.decode(old_producer.encode("SyncResult", _sync_record())).record == _sync_record(ledger_url=None)


def test_unknown_ids_and_garbage_are_one_clear_error_and_single_object_still_reads(registry):
    reg = RegistryCodec(registry.url, Codec(load_schema_dir()))
    with pytest.raises(DecodeError, match="schema id 9999") as err:
        reg.decode(b"\x00" + (9999).to_bytes(4, "big") + b"\x02", topic="ats.fees", partition=2, offset=7)
    assert "ats.fees" in str(err.value) and "7" in str(err.value)
    with pytest.raises(DecodeError, match="neither"):
        reg.decode(b"{json}", topic="t", partition=0, offset=0)
    single = default_codec().encode("SyncResult", _sync_record())
    assert reg.decode(single).record == _sync_record()


def test_schema_registry_url_switches_the_default_codec(registry, monkeypatch):
    import schemas.codec as codec_module

    monkeypatch.setenv("SCHEMA_REGISTRY_URL", registry.url)
    monkeypatch.setattr(codec_module, "_default", None)
    try:
        payload = codec_module.encode("SyncResult", _sync_record())
        assert payload[0] == 0 and codec_module.decode(payload).record == _sync_record()
    finally:
        monkeypatch.setattr(codec_module, "_default", None)
