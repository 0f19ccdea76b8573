"""billing.commands v2 (issue 16): SET_INVOICE_SETUP and its fields. A command written with v1
(kept in schemas/avro/history) still decodes, with the new fields defaulted; a v1 reader still
reads a v2 command of a v1 kind."""
from __future__ import annotations

import datetime as dt
import json

import fastavro

from cli.operator import command_record
from schemas.codec import SCHEMA_DIR, SINGLE_OBJECT_MAGIC, Codec, decode, encode, load_schema

V1 = load_schema(json.loads((SCHEMA_DIR / "history" / "billing_commands.v1.avsc").read_text()))
V2 = load_schema(json.loads((SCHEMA_DIR / "billing_commands.avsc").read_text()))


def _v1_bytes(record: dict) -> bytes:
    """A command as a v1 writer put it on the topic (written here with fastavro and v1 alone)."""
    import io

    buf = io.BytesIO()
    buf.write(SINGLE_OBJECT_MAGIC + V1.fingerprint)
    fastavro.schemaless_writer(buf, V1.parsed, record)
    return buf.getvalue()


def test_versions_and_the_new_kind():
    assert (V1.version, V2.version) == (1, 2)
    kinds = lambda s: next(f for f in s.raw["fields"] if f["name"] == "command")["type"]["symbols"]  # noqa: E731
    assert "SET_INVOICE_SETUP" in kinds(V2) and "SET_INVOICE_SETUP" not in kinds(V1)
    assert kinds(V2)[:len(kinds(V1))] == kinds(V1)


def test_a_v1_command_decodes_as_v2_with_the_setup_fields_defaulted():
    v1_record = {k: v for k, v in command_record("t1", "GENERATE", first_number=7).items()
                 if k in {f["name"] for f in V1.raw["fields"]}}
    record = decode(_v1_bytes(v1_record)).record
    assert record["command"] == "GENERATE" and record["first_number"] == 7
    assert (record["time_zone"], record["week_ending_day"], record["invoice_delay_days"],
            record["preferred_start_time"], record["cycles"]) == (None, None, None, None, [])


def test_set_invoice_setup_round_trips_and_a_v1_reader_reads_older_kinds():
    rec = command_record("t1", "SET_INVOICE_SETUP", time_zone="America/New_York", week_ending_day="SATURDAY",
                         invoice_delay_days=1, preferred_start_time="09:30", cycles=["WEEKLY"])
    back = decode(encode("OperatorCommand", rec)).record
    assert (back["command"], back["time_zone"], back["invoice_delay_days"], back["cycles"]) == (
        "SET_INVOICE_SETUP", "America/New_York", 1, ["WEEKLY"])
    old_kind = encode("OperatorCommand", command_record("t1", "CLOSE_WINDOW", window_id="WEEKLY:2026-11-22",
                                                        as_of=dt.date(2026, 11, 24)))
    as_v1 = Codec([V1, V2], readers={"OperatorCommand": 1}).decode(old_kind).record
    assert as_v1["window_id"] == "WEEKLY:2026-11-22" and "time_zone" not in as_v1
