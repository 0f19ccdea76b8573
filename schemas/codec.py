"""Avro codec for every event of the contract.

Default wire format: Avro single-object encoding (0xC3 0x01, then the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical
Form, then the Avro binary body), so a consumer knows which schema wrote a
message without a registry. With SCHEMA_REGISTRY_URL set, `RegistryCodec`
speaks the Confluent wire format instead (magic 0, 4-byte schema id).

Every decoding failure raises DecodeError naming topic, partition and offset.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).with_name("avro")
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
HEADER_LEN = 10


class DecodeError(ValueError):
    """A payload that cannot be decoded: not Avro, truncated, or from an unknown schema."""

    def __init__(self, reason: str, *, topic: str | None = None, partition: int | None = None,
                 offset: int | None = None) -> None:
        self.reason = reason
        self.topic = topic
        self.partition = partition
        self.offset = offset
        where = f"{topic or '?'}[{partition if partition is not None else '?'}]@{offset if offset is not None else '?'}"
        super().__init__(f"cannot decode message at {where}: {reason}")


class EncodeError(ValueError):
    """A record that does not match its schema."""


class Decoded(NamedTuple):
    schema_name: str
    record: dict[str, Any]
    fingerprint: bytes


@dataclass(frozen=True)
class SchemaVersion:
    """One parsed schema version: record name, x-version, CRC-64-AVRO fingerprint."""

    name: str
    version: int
    full_name: str
    parsed: Any
    fingerprint: bytes
    raw: dict




def load_schema(raw: dict) -> SchemaVersion:
    parsed = fastavro.parse_schema(raw)
    canonical = to_parsing_canonical_form(parsed)
    fp = bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))
    # The record name stays stable across versions (Avro resolution matches on it);
    # the version is the schema's "x-version" property, repeated in its doc.
    name, version = raw["name"].rsplit(".", 1)[-1], int(raw.get("x-version", 1))
    full = f"{raw.get('namespace', '')}.{raw['name']}".lstrip(".")
    return SchemaVersion(name, version, full, parsed, fp, raw)


def load_schema_dir(directory: Path = SCHEMA_DIR) -> list[SchemaVersion]:
    """The current schemas, plus the earlier versions kept in history/ so that messages their
    writers left on the topics still decode (single-object encoding names the writer's fingerprint)."""
    paths = sorted(directory.glob("*.avsc")) + sorted((directory / "history").glob("*.avsc"))
    return [load_schema(json.loads(p.read_text())) for p in paths]


class Codec:
    """Single-object-encoding codec over a set of known schema versions.

    `readers` pins the version a consumer reads as (schema evolution): a message
    written with another known version is resolved to the reader's version.
    By default every name is read as its newest known version.
    """

    def __init__(self, schemas: Iterable[SchemaVersion], readers: dict[str, int] | None = None) -> None:
        self._by_fp: dict[bytes, SchemaVersion] = {}
        self._writer: dict[str, SchemaVersion] = {}
        versions: dict[str, dict[int, SchemaVersion]] = {}
        for s in schemas:
            self._by_fp[s.fingerprint] = s
            versions.setdefault(s.name, {})[s.version] = s
        readers = readers or {}
        self._reader: dict[str, SchemaVersion] = {}
        for name, by_version in versions.items():
            chosen = by_version[readers.get(name, max(by_version))]
            self._writer[name] = chosen
            self._reader[name] = chosen
        self._headers = {name: SINGLE_OBJECT_MAGIC + s.fingerprint for name, s in self._writer.items()}

    def schema_names(self) -> list[str]:
        return sorted(self._writer)

    def writer_schema(self, name: str) -> SchemaVersion:
        return self._writer[name]

    def encode(self, schema_name: str, record: dict[str, Any]) -> bytes:
        try:
            schema = self._writer[schema_name]
        except KeyError:
            raise EncodeError(f"unknown schema {schema_name!r}; known: {', '.join(self.schema_names())}") from None
        buf = io.BytesIO()
        buf.write(self._headers[schema_name])
        try:
            fastavro.schemaless_writer(buf, schema.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EncodeError(f"{schema_name}: record does not match schema: {exc}") from exc
        return buf.getvalue()

    def decode(self, payload: bytes | None, *, topic: str | None = None, partition: int | None = None,
               offset: int | None = None) -> Decoded:
        where = {"topic": topic, "partition": partition, "offset": offset}
        if not payload or len(payload) < HEADER_LEN:
            raise DecodeError(f"payload too short ({len(payload or b'')} bytes) for single-object encoding", **where)
        if payload[:2] != SINGLE_OBJECT_MAGIC:
            raise DecodeError(f"not Avro single-object encoding (starts with {payload[:2].hex()})", **where)
        fp = payload[2:HEADER_LEN]
        writer = self._by_fp.get(fp)
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {fp.hex()}", **where)
        reader = self._reader[writer.name]
        buf = io.BytesIO(payload)
        buf.seek(HEADER_LEN)
        try:
            if reader is writer:
                record = fastavro.schemaless_reader(buf, writer.parsed, None)
            else:
                record = fastavro.schemaless_reader(buf, writer.parsed, reader.parsed)
        except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError... on garbage
            raise DecodeError(f"{writer.name} v{writer.version} body is corrupt or truncated: {exc!r}", **where) from exc
        if buf.tell() != len(payload):
            raise DecodeError(f"{len(payload) - buf.tell()} trailing bytes after the {writer.name} record", **where)
        return Decoded(writer.name, record, fp)


_default: Codec | None = None


def default_codec() -> Codec:
    """The codec over the schemas shipped in schemas/avro (loaded once); in the Confluent
    wire format through the schema registry when SCHEMA_REGISTRY_URL is set."""
    global _default
    if _default is None:
        local = Codec(load_schema_dir())
        url = os.environ.get("SCHEMA_REGISTRY_URL")
        if url:
            from schemas.registry import RegistryCodec

            _default = RegistryCodec(url, local)
        else:
            _default = local
    return _default


def encode(schema_name: str, record: dict[str, Any]) -> bytes:
    return default_codec().encode(schema_name, record)


def decode(payload: bytes | None, *, topic: str | None = None, partition: int | None = None,
           offset: int | None = None) -> Decoded:
    return default_codec().decode(payload, topic=topic, partition=partition, offset=offset)


def schema_names() -> list[str]:
    return default_codec().schema_names()
