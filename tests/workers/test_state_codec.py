"""The state codec (workers/state.py, schemas/state_codec.py): every value the workers store or
send among themselves comes back exactly as it went in (hypothesis, from the dataclasses' type
hints, with awkward values mixed in), state written by version 1 of each schema still loads, and
an older version resolves into a newer one through Avro resolution."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import shutil
import typing
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.billto import BilltoHierarchy
from schemas.state_compat import problems
from schemas.state_codec import STATE_DIR, StateDecodeError, StateSchemas, header
from tests.workers.state_samples import SAMPLES
from workers.state import BINDINGS, REGISTRY, dumps, encoded_size, loads

FIXTURES = Path(__file__).with_name("state_fixtures")
UTC = dt.timezone.utc

AWKWARD_DECIMALS = [Decimal(s) for s in ("0", "-0", "0.00", "1.10", "1.1", "-12.5E+2", "1E-30", "123456789012345678901234567890.123456789",
                                         "0.0825", "-0.005")]
AWKWARD_TEXT = ["", "\x00", "Zürich \u2014 \U0001F600", " ", "a" * 300]


def same(a, b) -> bool:
    """Equal, and of the same types down to the leaves: Decimal digits and exponent, enum members
    (not their strings), tuple vs list, frozenset, a datetime's offset."""
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, BilltoHierarchy):
        return same(a.nodes, b.nodes)
    return a == b


def strategy(hint) -> st.SearchStrategy:
    """Values of a type hint, as the mapping's contract allows them (datetimes aware, in UTC)."""
    if hint is str:
        return st.sampled_from(AWKWARD_TEXT) | st.text(max_size=12)
    if hint is int:
        return st.sampled_from([0, -1, 2**63 - 1, -2**63]) | st.integers(-2**63, 2**63 - 1)
    if hint is bool:
        return st.booleans()
    if hint is bytes:
        return st.binary(max_size=16)
    if hint is Decimal:
        return st.sampled_from(AWKWARD_DECIMALS) | st.decimals(allow_nan=False, allow_infinity=False)
    if hint is dt.date:
        return st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1970, 1, 1)]) | st.dates()
    if hint is dt.datetime:
        return st.datetimes(timezones=st.just(UTC))
    if hint is dt.time:
        return st.sampled_from([dt.time(0), dt.time(23, 59, 59, 999999)]) | st.times()      # naive, as the setup keeps it
    if hint is BilltoHierarchy:
        return st.lists(strategy(BINDINGS["billto_node"].cls), max_size=2).map(BilltoHierarchy)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return st.builds(hint, **{f.name: strategy(hints[f.name]) for f in dataclasses.fields(hint)})
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, __import__("types").UnionType):
        inner = [a for a in args if a is not type(None)][0]
        return st.none() | strategy(inner)
    if origin is tuple and args[-1:] == (Ellipsis,):
        return st.lists(strategy(args[0]), max_size=3).map(tuple)
    if origin is tuple:
        return st.tuples(*(strategy(a) for a in args))
    if origin is frozenset:
        return st.frozensets(strategy(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(strategy(args[0]), strategy(args[1]), max_size=3)
    raise TypeError(f"no strategy for {hint!r}")


def _value_strategy(name: str) -> st.SearchStrategy:
    if name == "command_seen":
        return strategy(str)
    if name == "sync_status":
        return st.fixed_dictionaries({"status": strategy(str), "system": strategy(str),
                                      "external_id": st.none() | strategy(str), "error": st.none() | strategy(str),
                                      "attempts": st.integers(-2**31, 2**31 - 1),
                                      "occurred_at": st.datetimes(timezones=st.just(UTC))})
    return strategy(BINDINGS[name].cls)


@pytest.mark.parametrize("name", sorted(BINDINGS))
def test_every_state_value_round_trips_exactly(name):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_value_strategy(name))
    def check(value):
        data = dumps(value, name)
        assert data.startswith(header(name, REGISTRY.schemas.current[name]))
        back = loads(data)
        assert same(back, value), (value, back)

    check()


def test_a_value_is_found_its_schema_by_its_type_and_refused_without_one():
    sample = SAMPLES["ledger_record"]()
    assert dumps(sample) == dumps(sample, "ledger_record")
    with pytest.raises(TypeError, match="no state schema"):
        dumps(object())


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_state_written_by_the_first_version_still_loads(name):
    """Fixture bytes written with v1 (tests/workers/make_state_fixtures.py) load into today's classes."""
    data = (FIXTURES / f"{name}.v1.bin").read_bytes()
    assert data.startswith(header(name, 1))
    assert same(loads(data), SAMPLES[name]())


def test_every_state_schema_has_a_fixture_for_every_version():
    wanted = {f"{n}.v{v}.bin" for n, versions in StateSchemas().files.items() for v in versions}
    assert wanted == {p.name for p in FIXTURES.glob("*.bin")}


def _with_v2(tmp_path: Path, field: dict) -> StateSchemas:
    """schemas/state/ plus a test-only ledger_record v2 whose top record has one more field."""
    shutil.copytree(STATE_DIR, tmp_path, dirs_exist_ok=True)
    v1 = json.loads((STATE_DIR / "ledger_record.v1.avsc").read_text())
    v2 = dict(v1, fields=v1["fields"] + [field])
    (tmp_path / "ledger_record.v2.avsc").write_text(json.dumps(v2))
    return StateSchemas(tmp_path)


def test_a_v1_value_resolves_into_v2_with_the_new_fields_default(tmp_path):
    schemas = _with_v2(tmp_path, {"name": "watermark", "type": ["null", "long"], "default": None})
    v1_bytes = (FIXTURES / "ledger_record.v1.bin").read_bytes()
    name, datum = schemas.decode(v1_bytes)
    _, as_written = StateSchemas().decode(v1_bytes)
    assert name == "ledger_record" and schemas.current[name] == 2
    assert problems(schemas.files[name][1].schema, schemas.files[name][2].schema) == []     # the contract check agrees
    assert datum == {**as_written, "watermark": None}
    # and v2 writes the new field, which v2 reads back
    _, again = schemas.decode(schemas.encode(name, {**as_written, "watermark": 7}))
    assert again["watermark"] == 7
    assert schemas.encode(name, as_written | {"watermark": 7}).startswith(header(name, 2))


def test_a_v2_field_without_a_default_cannot_read_v1(tmp_path):
    schemas = _with_v2(tmp_path, {"name": "watermark", "type": "long"})
    assert problems(schemas.files["ledger_record"][1].schema, schemas.files["ledger_record"][2].schema) == [
        "$.watermark: new field without a default"]
    with pytest.raises(StateDecodeError, match="ledger_record v1"):
        schemas.decode((FIXTURES / "ledger_record.v1.bin").read_bytes())


@pytest.mark.parametrize("data, reason", [
    (b"\x80\x05\x95garbage", "not a state value"),
    (b"BS\x05ledg", "cut short"),
    (header("nonexistent", 1) + b"\x00", "unknown to this release"),
    (header("ledger_record", 99) + b"\x00", "unknown to this release"),
    (header("ledger_record", 1) + b"\x02", "ledger_record v1"),
])
def test_bytes_that_are_no_known_state_are_refused_with_a_reason(data, reason):
    with pytest.raises(StateDecodeError, match=reason):
        loads(data)


def test_encoded_size_is_the_bytes_a_value_adds_to_a_message():
    from workers.messages import Settle

    one, two = SAMPLES["lines_chunk"]().lines
    assert encoded_size(one) > len(one.pay_line_id) + len(one.description)
    base = len(dumps(Settle("w", "t", {"k": {}})))
    with_one = len(dumps(Settle("w", "t", {"k": {one.pay_line_id: (one, "inv-1")}})))
    # the line, its invoice id, and its map key (sizes as varint lengths + text) within a few bytes
    assert abs((with_one - base) - (encoded_size((one, "inv-1")) + len(one.pay_line_id))) <= 8


@pytest.mark.parametrize("name", ["collect", "settle", "lines_chunk", "window_end", "release", "sweep_parked",
                                  "line_command", "document_command", "billto_node"])
def test_internal_topic_messages_go_through_fausts_state_codec(name):
    """What Faust does with an internal topic's value (workers.app.STATE: value_serializer="state")."""
    from faust.serializers import codecs

    sample = SAMPLES[name]()
    data = codecs.dumps("state", sample)
    assert data == dumps(sample) and same(codecs.loads("state", data), sample)
