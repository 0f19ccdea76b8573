"""The one door of the worker's web server: every request needs a bearer token of the right
tenant, except the three probes a load balancer and Prometheus call (/healthz, /readyz, /metrics).
The worker serves nothing else of its own now (the ops API is `backoffice api`, api/doors.py uses
`check` and `is_open` from here), but Faust's web server may: this keeps it shut.

An aiohttp middleware, so it covers every route the server has, including any a Faust upgrade
might add: a route with a `{tenant}` segment needs a token of that tenant (or an operator's
"*"), any other route an operator token. It also refuses a body larger than the configured
limit before a view reads it.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from ops.api.auth import AuthError, authorize, load_tokens

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
OPEN_METHODS = frozenset({"GET", "HEAD"})
OPERATOR = "*"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusal(status: int, message: str, field: str | None) -> web.Response:
    return web.json_response({"error": message, "field": field}, status=status)


def is_open(method: str, path: str) -> bool:
    return method in OPEN_METHODS and path in OPEN_PATHS


def check(header: str | None, tenant: str | None, tokens: dict[str, str]) -> None:
    """Raise AuthError unless the header's token may use a route of `tenant` (None: no tenant in the path)."""
    try:
        authorize(header, tenant if tenant is not None else OPERATOR, tokens)
    except AuthError as exc:
        if tenant is None and exc.status == 403:
            raise AuthError(403, "only an operator token (scope \"*\") may use this route") from None
        raise


def token_gate(max_body_bytes: int, tokens: Callable[[], dict[str, str]] = load_tokens) -> Callable:
    """The middleware; `tokens` is read per request so a changed BACKOFFICE_OPS_TOKENS needs no restart."""

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_open(request.method, request.path):
            return await handler(request)
        try:
            check(request.headers.get("Authorization"), request.match_info.get("tenant"), tokens())
        except AuthError as exc:
            return refusal(exc.status, exc.message, "Authorization")
        if request.content_length is not None and request.content_length > max_body_bytes:
            return refusal(413, f"the body is larger than {max_body_bytes} bytes", "body")
        return await handler(request)

    return require_token
