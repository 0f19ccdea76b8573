"""Where recorded PDFs live: a local directory by default, an S3-compatible bucket on request.

Paths are deterministic (tenant/invoice_id/<kind>-<sha12>.pdf), so recording the
same bytes twice writes nothing new and returns the same URI.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class DocumentStoreError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class StoredDocument:
    kind: str  # "invoice", "credit_memo", "timesheet_report"
    uri: str
    sha256: str
    size: int


class DocumentStore(Protocol):
    def put(self, tenant_id: str, invoice_id: str, kind: str, data: bytes) -> StoredDocument: ...

    def get(self, uri: str) -> bytes: ...

    def list(self, tenant_id: str, invoice_id: str) -> list[StoredDocument]: ...


def document_key(tenant_id: str, invoice_id: str, kind: str, sha256: str) -> str:
    for label, value in (("tenant id", tenant_id), ("invoice id", invoice_id), ("kind", kind)):
        if not _SAFE.match(value) or value in (".", ".."):
            raise DocumentStoreError(f"{label} {value!r} cannot be part of a document path")
    return f"{tenant_id}/{invoice_id}/{kind}-{sha256[:12]}.pdf"


def _parse_name(name: str) -> tuple[str, str] | None:
    stem, _, suffix = name.rpartition(".")
    kind, _, short = stem.rpartition("-")
    return (kind, short) if suffix == "pdf" and kind and len(short) == 12 else None


class LocalDocumentStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def put(self, tenant_id: str, invoice_id: str, kind: str, data: bytes) -> StoredDocument:
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / document_key(tenant_id, invoice_id, kind, sha)
        if not (path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)  # readers never see a partial PDF
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredDocument(kind, path.as_uri(), sha, len(data))

    def _path(self, uri: str) -> Path:
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != "file":
            raise DocumentStoreError(f"{uri!r} is not a file:// URI")
        path = Path(urllib.parse.unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root):
            raise DocumentStoreError(f"{uri!r} is outside the document store {self.root}")
        return path

    def get(self, uri: str) -> bytes:
        return self._path(uri).read_bytes()

    def list(self, tenant_id: str, invoice_id: str) -> list[StoredDocument]:
        folder = self.root / tenant_id / invoice_id
        found = []
        for path in sorted(folder.glob("*.pdf")) if folder.is_dir() else []:
            parsed = _parse_name(path.name)
            if parsed:
                data = path.read_bytes()
                found.append(StoredDocument(parsed[0], path.as_uri(), hashlib.sha256(data).hexdigest(), len(data)))
        return found


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None


def parse_s3_uri(uri: str) -> S3Location:
    """s3://bucket/prefix?endpoint_url=https://minio.local:9000&region=eu-west-1"""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise DocumentStoreError(f"{uri!r} is not s3://bucket[/prefix]")
    query = urllib.parse.parse_qs(parts.query)
    unknown = set(query) - {"endpoint_url", "region"}
    if unknown:
        raise DocumentStoreError(f"unknown S3 option(s) {', '.join(sorted(unknown))} in {uri!r}")
    return S3Location(
        bucket=parts.netloc,
        prefix=parts.path.strip("/"),
        endpoint_url=query.get("endpoint_url", [None])[0],
        region=query.get("region", [None])[0],
    )


class S3DocumentStore:
    """Any S3-compatible bucket via boto3 (the optional `s3` extra, imported only when used)."""

    def __init__(self, location: S3Location, client: Any | None = None) -> None:
        self.location = location
        if client is None:
            try:
                import boto3  # noqa: PLC0415 - optional dependency
            except ImportError as exc:
                raise DocumentStoreError("an s3:// document store needs boto3: pip install 'backoffice[s3]'") from exc
            client = boto3.client("s3", endpoint_url=location.endpoint_url, region_name=location.region)
        self.client = client

    def _key(self, tenant_id: str, invoice_id: str, kind: str, sha: str) -> str:
        key = document_key(tenant_id, invoice_id, kind, sha)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _uri(self, key: str) -> str:
        return f"s3://{self.location.bucket}/{key}"

    def put(self, tenant_id: str, invoice_id: str, kind: str, data: bytes) -> StoredDocument:
        sha = hashlib.sha256(data).hexdigest()
        key = self._key(tenant_id, invoice_id, kind, sha)
        self.client.put_object(Bucket=self.location.bucket, Key=key, Body=data, ContentType="application/pdf",
                               Metadata={"sha256": sha})
        return StoredDocument(kind, self._uri(key), sha, len(data))

    def get(self, uri: str) -> bytes:
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != "s3" or parts.netloc != self.location.bucket:
            raise DocumentStoreError(f"{uri!r} is not in bucket {self.location.bucket}")
        return self.client.get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))["Body"].read()

    def list(self, tenant_id: str, invoice_id: str) -> list[StoredDocument]:
        prefix = self._key(tenant_id, invoice_id, "x", "0" * 64).rsplit("/", 1)[0] + "/"
        response = self.client.list_objects_v2(Bucket=self.location.bucket, Prefix=prefix)
        found = []
        for item in response.get("Contents", []):
            parsed = _parse_name(item["Key"].rsplit("/", 1)[-1])
            if parsed:
                data = self.get(self._uri(item["Key"]))
                found.append(StoredDocument(parsed[0], self._uri(item["Key"]), hashlib.sha256(data).hexdigest(), len(data)))
        return found


def store_from_uri(uri: str) -> DocumentStore:
    """`BACKOFFICE_DOCUMENT_STORE`: a directory path, file:///dir, or s3://bucket/prefix?endpoint_url=..."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "s3":
        return S3DocumentStore(parse_s3_uri(uri))
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DocumentStoreError(f"{uri!r}: file URIs must be local (file:///path)")
        return LocalDocumentStore(urllib.parse.unquote(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise DocumentStoreError(f"unsupported document store {uri!r} (use a path, file:// or s3://)")
    return LocalDocumentStore(uri)
