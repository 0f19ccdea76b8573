"""Bearer tokens of the ops API: BACKOFFICE_OPS_TOKENS = {"token": "tenant id" | "*"}."""
from __future__ import annotations

import hmac
import json


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def load_tokens(raw: str | None = None) -> dict[str, str]:
    """The token map: `raw` (JSON), else BACKOFFICE_OPS_TOKENS through the settings."""
    if raw is None:
        from infra.settings import load_settings

        secret = load_settings().ops_tokens
        raw = secret.get_secret_value() if secret is not None else "{}"
    tokens = json.loads(raw or "{}")
    if not isinstance(tokens, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tokens.items()):
        raise ValueError("BACKOFFICE_OPS_TOKENS must be a JSON object {token: tenant id or \"*\"}")
    return tokens


def authorize(header: str | None, tenant_id: str, tokens: dict[str, str]) -> str:
    """The caller's scope ("*" or its tenant); raises AuthError 401/403."""
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        raise AuthError(401, "missing bearer token (Authorization: Bearer <token>)")
    given = header[7:].strip()
    scope = next((s for t, s in tokens.items() if hmac.compare_digest(t.encode(), given.encode())), None)
    if scope is None:
        raise AuthError(401, "unknown token")
    if scope != "*" and scope != tenant_id:
        raise AuthError(403, f"this token may not read or act on tenant {tenant_id}")
    return scope
