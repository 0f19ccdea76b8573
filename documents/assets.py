"""Logos: an image file in the template folder or an uploaded asset, checked before use.

Only PNG, JPEG and GIF, at most MAX_LOGO_BYTES and MAX_LOGO_PIXELS, and it must decode:
an SVG or HTML file renamed to .png is refused rather than handed to the renderer.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

MAX_LOGO_BYTES = 512 * 1024
MAX_LOGO_PIXELS = 4000 * 4000
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}


class LogoError(ValueError):
    """A logo that is too big, not an image, or of a format we do not embed."""


def check_logo(path: Path, *, max_bytes: int = MAX_LOGO_BYTES) -> tuple[str, bytes]:
    """(mime type, bytes) of a valid logo, else LogoError saying why."""
    data = path.read_bytes()
    if len(data) > max_bytes:
        raise LogoError(f"logo {path.name} is {len(data)} bytes, the limit is {max_bytes}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format, image.size
            image.verify()
    except Exception as exc:  # Pillow raises many types for a bad file
        raise LogoError(f"logo {path.name} is not a readable image: {exc}") from exc
    if fmt not in LOGO_FORMATS:
        raise LogoError(f"logo {path.name} is {fmt}; use one of {', '.join(LOGO_FORMATS)}")
    if width * height > MAX_LOGO_PIXELS:
        raise LogoError(f"logo {path.name} is {width}x{height} pixels, too large")
    return LOGO_FORMATS[fmt], data


def logo_data_uri(path: Path, *, max_bytes: int = MAX_LOGO_BYTES) -> str:
    """An uploaded logo, checked and inlined so the renderer reads no path of the uploader's choosing."""
    mime, data = check_logo(path, max_bytes=max_bytes)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
