"""Request bodies of the ops API, parsed within bounds: a body nested deeper than the limit is
refused before the JSON parser sees it (Python's parser recurses, and 50k levels of `[` end in
a RecursionError, i.e. a 500)."""
from __future__ import annotations

import json
from typing import Any


class BodyError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def nesting_depth_exceeds(text: str, limit: int) -> bool:
    """Does any array or object in `text` open more than `limit` levels deep? Brackets inside
    strings do not count; the text need not be valid JSON (the parser judges that afterwards)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_json(raw: bytes, max_bytes: int, max_depth: int) -> Any:
    """The JSON value of a body (None for an empty one), or BodyError 413/400."""
    if len(raw) > max_bytes:
        raise BodyError(413, f"the body is larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "the body is not UTF-8") from None
    if not text.strip():
        return None
    if nesting_depth_exceeds(text, max_depth):
        raise BodyError(400, f"the body is nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BodyError(400, "the body is not JSON") from None
