"""Registry mode of the codec: the Confluent wire format (magic 0, 4-byte schema id, Avro
body) through confluent-kafka's schema-registry client. Chosen when SCHEMA_REGISTRY_URL
is set; otherwise the default single-object encoding needs no registry at all.

Subjects follow the record-name strategy (the record's full name), so a schema maps to
one subject whatever topic carries it. Single-object payloads stay readable, so a topic
can be migrated from one wire format to the other without a flag day.
"""
from __future__ import annotations

import io
import json
import threading
from typing import Any

import fastavro

from schemas.codec import SINGLE_OBJECT_MAGIC, Codec, Decoded, DecodeError, EncodeError, SchemaVersion, load_schema

CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER = 5


class RegistryCodec:
    def __init__(self, url: str, local: Codec, client: Any = None) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        self.local = local
        self.client = client or SchemaRegistryClient({"url": url})
        self._headers: dict[str, bytes] = {}
        self._writers: dict[int, tuple[SchemaVersion, SchemaVersion]] = {}     # id -> (writer, reader)
        self._lock = threading.Lock()

    def schema_names(self) -> list[str]:
        return self.local.schema_names()

    def writer_schema(self, name: str) -> SchemaVersion:
        return self.local.writer_schema(name)

    def subject(self, schema_name: str) -> str:
        return self.local.writer_schema(schema_name).full_name

    def _header(self, schema_name: str) -> bytes:
        header = self._headers.get(schema_name)
        if header is None:
            from confluent_kafka.schema_registry import Schema

            schema = self.local.writer_schema(schema_name)
            with self._lock:
                schema_id = self.client.register_schema(self.subject(schema_name), Schema(json.dumps(schema.raw), "AVRO"))
                header = CONFLUENT_MAGIC + int(schema_id).to_bytes(4, "big")
                self._headers[schema_name] = header
        return header

    def encode(self, schema_name: str, record: dict[str, Any]) -> bytes:
        try:
            schema = self.local.writer_schema(schema_name)
        except KeyError:
            raise EncodeError(f"unknown schema {schema_name!r}") from None
        buf = io.BytesIO()
        buf.write(self._header(schema_name))
        try:
            fastavro.schemaless_writer(buf, schema.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(f"{schema_name}: record does not match schema: {exc}") from exc
        return buf.getvalue()

    def _resolve(self, schema_id: int, where: dict) -> tuple[SchemaVersion, SchemaVersion]:
        found = self._writers.get(schema_id)
        if found is not None:
            return found
        try:
            registered = self.client.get_schema(schema_id)
        except Exception as exc:
            raise DecodeError(f"schema id {schema_id} is not in the registry ({exc})", **where) from exc
        writer = load_schema(json.loads(registered.schema_str))
        try:
            reader = self.local.writer_schema(writer.name)
        except KeyError:
            raise DecodeError(f"schema id {schema_id} ({writer.full_name}) is not one of ours", **where) from None
        self._writers[schema_id] = (writer, reader)
        return writer, reader

    def decode(self, payload: bytes | None, *, topic: str | None = None, partition: int | None = None,
               offset: int | None = None) -> Decoded:
        where = {"topic": topic, "partition": partition, "offset": offset}
        if payload and payload[:2] == SINGLE_OBJECT_MAGIC:
            return self.local.decode(payload, **where)
        if not payload or len(payload) < CONFLUENT_HEADER or payload[:1] != CONFLUENT_MAGIC:
            raise DecodeError(f"neither Confluent wire format nor single-object encoding "
                              f"(starts with {(payload or b'')[:2].hex()})", **where)
        schema_id = int.from_bytes(payload[1:CONFLUENT_HEADER], "big")
        writer, reader = self._resolve(schema_id, where)
        buf = io.BytesIO(payload)
        buf.seek(CONFLUENT_HEADER)
        try:
            record = fastavro.schemaless_reader(buf, writer.parsed,
                                                None if writer.fingerprint == reader.fingerprint else reader.parsed)
        except Exception as exc:
            raise DecodeError(f"{writer.name} body is corrupt or truncated: {exc!r}", **where) from exc
        if buf.tell() != len(payload):
            raise DecodeError(f"{len(payload) - buf.tell()} trailing bytes after the {writer.name} record", **where)
        return Decoded(writer.name, record, reader.fingerprint)
