from __future__ import annotations

import hashlib

import pytest

from documents.settings import DocumentSettings
from documents.store import (
    DocumentStoreError, LocalDocumentStore, S3DocumentStore, S3Location, parse_s3_uri, store_from_uri,
)


def test_local_store_deterministic_paths_and_idempotent_put(tmp_path):
    store = LocalDocumentStore(tmp_path)
    data = b"%PDF-1.4 pretend"
    sha = hashlib.sha256(data).hexdigest()
    first = store.put("t1", "inv-1", "invoice", data)
    again = store.put("t1", "inv-1", "invoice", data)
    assert first == again
    assert first.uri == (tmp_path / "t1" / "inv-1" / f"invoice-{sha[:12]}.pdf").as_uri()
    assert first.sha256 == sha and first.size == len(data)
    assert store.get(first.uri) == data
    assert store.list("t1", "inv-1") == [first]
    assert store.list("t1", "other") == []
    assert not list(tmp_path.rglob(".tmp-*"))


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".", "..", "x" * 200, "a b"])
def test_ids_cannot_escape_the_store(tmp_path, bad):
    store = LocalDocumentStore(tmp_path)
    with pytest.raises(DocumentStoreError):
        store.put(bad, "inv-1", "invoice", b"x")
    with pytest.raises(DocumentStoreError):
        store.put("t1", bad, "invoice", b"x")


def test_local_store_refuses_uris_outside_its_root(tmp_path):
    store = LocalDocumentStore(tmp_path / "docs")
    with pytest.raises(DocumentStoreError, match="outside"):
        store.get("file:///etc/passwd")
    with pytest.raises(DocumentStoreError, match="not a file"):
        store.get("s3://bucket/key.pdf")


def test_store_uri_parsing(tmp_path):
    assert isinstance(store_from_uri(str(tmp_path)), LocalDocumentStore)
    assert store_from_uri(tmp_path.as_uri()).root == tmp_path.resolve()
    assert parse_s3_uri("s3://invoices") == S3Location("invoices")
    assert parse_s3_uri("s3://invoices/prod/docs/?endpoint_url=http://127.0.0.1:9000&region=eu-west-1") == S3Location(
        "invoices", "prod/docs", "http://127.0.0.1:9000", "eu-west-1"
    )
    for bad in ("s3:///nobucket", "s3://b?acl=public", "ftp://host/x", "file://otherhost/x"):
        with pytest.raises(DocumentStoreError):
            store_from_uri(bad) if not bad.startswith("s3") else parse_s3_uri(bad)


def test_s3_store_keys_under_prefix_without_boto3():
    calls = []

    class RecordingClient:  # the boto3 client surface we use; boto3 itself is an optional extra
        def put_object(self, **kwargs):
            calls.append(kwargs)

    store = S3DocumentStore(S3Location("invoices", "prod"), client=RecordingClient())
    doc = store.put("t1", "inv-1", "invoice", b"pdf")
    sha = hashlib.sha256(b"pdf").hexdigest()
    assert doc.uri == f"s3://invoices/prod/t1/inv-1/invoice-{sha[:12]}.pdf"
    assert calls[0]["Key"] == f"prod/t1/inv-1/invoice-{sha[:12]}.pdf" and calls[0]["ContentType"] == "application/pdf"


def test_settings_read_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKOFFICE_DOCUMENT_STORE", "s3://bucket/x")
    monkeypatch.setenv("BACKOFFICE_SMTP_PORT", "2525")
    monkeypatch.setenv("BACKOFFICE_SMTP_STARTTLS", "true")
    monkeypatch.setenv("BACKOFFICE_SMTP_PASSWORD", "hunter2")
    settings = DocumentSettings()
    assert settings.document_store == "s3://bucket/x" and settings.smtp_port == 2525 and settings.smtp_starttls
    assert "hunter2" not in repr(settings)
