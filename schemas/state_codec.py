"""The worker's own state (table values, internal-topic messages) in versioned Avro.

Each value type has one schema file per version under schemas/state/: `<name>.v<N>.avsc`,
self-contained (nested records defined inline). A value is written with the newest version of
its type, behind a small header naming the schema and its version:

    b"BS" | len(name) (1 byte) | name (ASCII) | version (2 bytes, big endian) | Avro body

so a reader knows which schema wrote it and reads an older version through Avro schema
resolution (fields added since come back with their defaults). A version, once committed, is
never edited (tests/contract/test_state_schemas.py holds the lock); a change is a new file.
Why a schema and not Python's own object serialization: that names classes by import path (a
rename made every changelog unreadable), and loading it runs whatever a changelog's writer put there.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

STATE_DIR = Path(__file__).with_name("state")
LOCK = STATE_DIR / "lock.json"
MAGIC = b"BS"
_FILE = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[0-9]+)\.avsc$")


class StateDecodeError(ValueError):
    """Bytes that are not a state value this release can read (unknown schema, version, or body)."""


@dataclass(frozen=True)
class SchemaFile:
    name: str
    version: int
    path: Path
    schema: Any          # the JSON as committed
    parsed: Any          # fastavro's parsed form


def fingerprint(schema: Any) -> str:
    """sha256 of the schema's JSON with sorted keys and no spacing: what lock.json records."""
    return hashlib.sha256(json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def header(name: str, version: int) -> bytes:
    raw = name.encode("ascii")
    return MAGIC + bytes([len(raw)]) + raw + version.to_bytes(2, "big")


def split_header(data: bytes) -> tuple[str, int, int]:
    """(schema name, version, offset of the Avro body)."""
    if data[:2] != MAGIC or len(data) < 5:
        older = " (Python object serialization: state of a release before schemas/state/)" if data[:1] == b"\x80" else ""
        raise StateDecodeError(f"not a state value{older} (starts with {bytes(data[:4])!r})")
    end = 3 + data[2]
    if len(data) < end + 2:
        raise StateDecodeError("state value header is cut short")
    try:
        name = bytes(data[3:end]).decode("ascii")
    except UnicodeDecodeError as exc:
        raise StateDecodeError("state value header has a non-ASCII schema name") from exc
    return name, int.from_bytes(data[end:end + 2], "big"), end + 2


def load_files(directory: Path = STATE_DIR) -> dict[str, dict[int, SchemaFile]]:
    """Every committed schema, by name then version (each file parsed on its own)."""
    out: dict[str, dict[int, SchemaFile]] = {}
    for path in sorted(directory.glob("*.avsc")):
        m = _FILE.match(path.name)
        if m is None:
            raise ValueError(f"{path.name}: state schema files are named <name>.v<N>.avsc")
        schema = json.loads(path.read_text())
        parsed = fastavro.parse_schema(schema, named_schemas={})
        version = int(m["version"])
        out.setdefault(m["name"], {})[version] = SchemaFile(m["name"], version, path, schema, parsed)
    return out


class StateSchemas:
    """Encode with the newest version of a schema; decode any committed version into the newest."""

    def __init__(self, directory: Path = STATE_DIR) -> None:
        self.files = load_files(directory)
        self.current = {name: max(versions) for name, versions in self.files.items()}
        self._headers = {name: header(name, v) for name, v in self.current.items()}

    def encode(self, name: str, datum: Any) -> bytes:
        try:
            head = self._headers[name]
        except KeyError:
            raise KeyError(f"no state schema {name!r} under schemas/state/") from None
        buf = io.BytesIO()
        buf.write(head)
        fastavro.schemaless_writer(buf, self.files[name][self.current[name]].parsed, datum)
        return buf.getvalue()

    def decode(self, data: bytes) -> tuple[str, Any]:
        name, version, start = split_header(data)
        versions = self.files.get(name)
        if versions is None or version not in versions:
            raise StateDecodeError(f"state schema {name} v{version} is unknown to this release "
                                   f"(known: {sorted(versions) if versions else 'none'})")
        writer = versions[version].parsed
        current = self.current[name]
        reader = None if version == current else versions[current].parsed
        try:
            return name, fastavro.schemaless_reader(io.BytesIO(data[start:]), writer, reader)
        except Exception as exc:   # noqa: BLE001  (fastavro raises several kinds on a bad body)
            raise StateDecodeError(f"state value {name} v{version}: {type(exc).__name__}: {exc}") from exc
