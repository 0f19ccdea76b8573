"""Reading back what we render: text via pypdf, pictures via pypdfium2 for people to look at."""
from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "documents"


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def image_count(data: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)


def save_pictures(name: str, data: bytes, scale: float = 1.4) -> list[Path]:
    """Write NAME.pdf and NAME-pN.png under test-artifacts/documents (gitignored)."""
    import pypdfium2 as pdfium

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.pdf").write_bytes(data)
    document = pdfium.PdfDocument(data)
    paths = []
    try:
        for index in range(len(document)):
            path = ARTIFACTS / f"{name}-p{index + 1}.png"
            document[index].render(scale=scale).to_pil().save(path)
            paths.append(path)
    finally:
        document.close()
    return paths
