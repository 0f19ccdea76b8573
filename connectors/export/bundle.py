"""One zip per batch: the import file(s) in the chosen format plus every PDF. Entries are
sorted and carry a fixed timestamp, so exporting twice gives identical bytes."""
from __future__ import annotations

import io
import zipfile
from typing import Callable, Iterable

from backoffice.model import Invoice
from connectors.export import formats

FORMATS = ("iif", "xero-csv", "qbo-csv", "csv")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def import_files(fmt: str, documents: list[Invoice], stem: str, settings: dict | None = None) -> dict[str, bytes]:
    """`settings`: the company's choices the format needs (iif: sales_tax_item; xero-csv: date_format)."""
    settings = settings or {}
    if fmt == "iif":
        return {f"{stem}.iif": formats.iif(documents, sales_tax_item=settings.get("sales_tax_item"))}
    if fmt == "xero-csv":
        files = formats.xero_csv(documents, date_format=settings.get("date_format", ""))
        return {f"{stem}-xero-{i + 1:03d}.csv": data for i, data in enumerate(files)}
    if fmt == "qbo-csv":
        out = {f"{stem}-qbo-invoices.csv": formats.qbo_csv(documents)}
        note = formats.left_out_of_qbo_csv(documents)
        if note:
            out[f"{stem}-qbo-credit-memos-not-imported.txt"] = note
        return out
    if fmt == "csv":
        return {f"{stem}.csv": formats.plain_csv(documents)}
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def build_zip(fmt: str, batch_id: str, documents: Iterable[Invoice],
              pdfs: Callable[[Invoice], list[tuple[str, bytes]]] = lambda _: [], settings: dict | None = None) -> bytes:
    docs = formats.ordered(documents)
    entries = dict(import_files(fmt, docs, batch_id, settings))
    for doc in docs:
        for name, data in pdfs(doc):
            entries[f"pdf/{name}"] = data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name])
    return buf.getvalue()
