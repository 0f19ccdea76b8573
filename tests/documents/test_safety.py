"""Hostile values render as text; templates reach only their own folder; logos are checked."""
from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
from PIL import Image

from documents.registry import TemplateRegistry
from documents.assets import LogoError, logo_data_uri
from documents.render import LinkGuard, render_document
from tests.documents import factories
from tests.documents.pdfs import image_count, pdf_text


def test_markup_in_values_renders_as_text(registry, agency):
    hostile_name = "<script>alert(1)</script> Evil & Co </td></tr></table><h1>BIG</h1>"
    hostile_line = factories.line(9, "</td><td>999.99</td><img src='file:///etc/passwd'> {{ 7*7 }}", "1", "10.00")
    invoice = factories.invoice((hostile_line,), account_name=hostile_name)
    data = render_document(invoice, registry.resolve(invoice), agency)
    flat = " ".join(pdf_text(data).split())

    assert "<script>alert(1)</script> Evil & Co </td></tr></table><h1>BIG</h1>" in flat
    assert "</td><td>999.99</td><img src='file:///etc/passwd'> {{ 7*7 }}" in flat
    assert "49" not in flat, "a value is never evaluated as a template"
    assert image_count(data) == 1, "only the template's own logo is drawn"


def _png(path: Path, size=(60, 20), color=(200, 0, 0)) -> Path:
    Image.new("RGB", size, color).save(path)
    return path


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_http():
    _CountingHandler.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _CountingHandler.hits
    server.shutdown()
    server.server_close()
    thread.join()


def test_template_links_outside_its_folder_are_refused(template_root, tmp_path, agency, loopback_http):
    base_url, hits = loopback_http
    secret = _png(tmp_path / "secret.png")
    layout = template_root / "_layouts" / "standard.html"
    html = layout.read_text().replace(
        "<body>",
        f'<body><img src="file://{secret}"><img src="../../secret.png"><img src="{base_url}/probe.png">'
        f'<img src="/etc/passwd"><img src="stamp.png">',
    )
    _png(template_root / "standard_invoice" / "stamp.png", color=(0, 0, 200))
    layout.write_text(html)
    registry = TemplateRegistry.load(template_root, strict=True)
    invoice = factories.invoice()

    data = render_document(invoice, registry.resolve(invoice), agency)

    assert "INV-1001" in pdf_text(data)
    assert hits == [], "the renderer fetched nothing over http"
    assert image_count(data) == 2, "the logo and the in-folder stamp; no outside file"


def test_link_guard_rules(tmp_path):
    folder = tmp_path / "tpl"
    folder.mkdir()
    _png(folder / "logo.png")
    (tmp_path / "outside.png").write_bytes(b"x")
    guard = LinkGuard(folder)
    assert guard("logo.png") == str((folder / "logo.png").resolve())
    assert guard(f"file://{folder / 'logo.png'}") == str((folder / "logo.png").resolve())
    for uri in ("../outside.png", f"file://{tmp_path / 'outside.png'}", "file:///etc/passwd", "/etc/passwd",
                "http://127.0.0.1/x.png", "https://example.com/x.png", "ftp://127.0.0.1/x", "missing.png",
                "file://otherhost/etc/passwd"):
        assert not guard(uri).startswith(("/", "file", "http", "ftp")), uri
    assert len(guard.refused) == 9


def test_uploaded_logo_is_checked_and_embedded(registry, tmp_path):
    logo = _png(tmp_path / "agency.png", size=(300, 100), color=(0, 120, 60))
    invoice = factories.invoice()
    data = render_document(invoice, registry.resolve(invoice), factories.agency(logo=logo))
    assert image_count(data) == 1
    assert logo_data_uri(logo).startswith("data:image/png;base64,")

    not_image = tmp_path / "logo.png"
    not_image.write_text("<svg onload=alert(1)>")
    with pytest.raises(LogoError, match="not a readable image"):
        logo_data_uri(not_image)
    big = tmp_path / "big.png"
    big.write_bytes((tmp_path / "agency.png").read_bytes() + b"\0" * 600_000)
    with pytest.raises(LogoError, match="limit"):
        logo_data_uri(big)
    bmp = tmp_path / "logo.bmp"
    Image.new("RGB", (10, 10)).save(bmp)
    with pytest.raises(LogoError, match="BMP"):
        logo_data_uri(bmp)
