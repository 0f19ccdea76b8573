"""The one door of the ops API: an ASGI middleware in front of every route, so a route added
later is guarded by construction (tests/api/test_doors.py enumerates app.routes to prove it).

Order: open probes pass; then the token (401 none or unknown, 403 another tenant's, and a route
without a `{tenant}` needs an operator's "*"); then the tenant segment's shape (`.`, `..`: 400);
then the body, read within BACKOFFICE_API_MAX_BODY_BYTES (413, with or without Content-Length)
and refused when nested deeper than BACKOFFICE_API_MAX_JSON_DEPTH (400) before FastAPI parses it.
"""
from __future__ import annotations

import json
import re
from typing import Callable

from ops.api.auth import AuthError
from ops.api.bodies import BodyError, parse_json
from ops.api.gate import check, is_open

PREFIX = "/api/v1/tenants/"
#: A tenant id in a path: no "." or ".." (nor any other name starting with a dot).
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
TENANT_RE = re.compile(TENANT_PATTERN)
ID_PATTERN = r"^[A-Za-z0-9:|._-]{1,200}$"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def tenant_of(path: str) -> str | None:
    """The tenant segment of a path under /api/v1/tenants/, None for any other path."""
    if not path.startswith(PREFIX):
        return None
    return path[len(PREFIX):].split("/", 1)[0]


async def refuse(send, status: int, message: str, field: str | None) -> None:
    body = json.dumps({"error": message, "field": field}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Door:
    """ASGI middleware; `tokens` is called per request (a changed token map needs no restart)."""

    def __init__(self, app, tokens: Callable[[], dict[str, str]], max_body_bytes: int, max_json_depth: int) -> None:
        self.app, self.tokens = app, tokens
        self.max_body_bytes, self.max_json_depth = max_body_bytes, max_json_depth

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or is_open(scope["method"], scope["path"]):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        tenant = tenant_of(scope["path"])
        try:
            check(headers.get("authorization"), tenant, self.tokens())
        except AuthError as exc:
            return await refuse(send, exc.status, exc.message, "Authorization")
        if tenant is not None and not TENANT_RE.match(tenant):
            return await refuse(send, 400, "tenant must be 1-100 letters, digits, '.', '_' or '-', starting with a "
                                           "letter or digit", "tenant")
        if scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        try:
            raw = await self._body(headers, receive)
            parse_json(raw, self.max_body_bytes, self.max_json_depth)
        except BodyError as exc:
            return await refuse(send, exc.status, exc.message, "body")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await self.app(scope, replay, send)

    async def _body(self, headers: dict, receive) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise BodyError(413, f"the body is larger than {self.max_body_bytes} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyError(400, "the client went away before the body ended")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyError(413, f"the body is larger than {self.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)
