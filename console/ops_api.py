"""The health check and the batch windows come from the workers' tables, which only the worker
serves: read them from its ops API (GET .../health, .../windows) with a token of the tenant's
from BACKOFFICE_OPS_TOKENS. A worker that does not answer is said in words, not a 500."""
from __future__ import annotations

import httpx


def _token(tokens: dict[str, str], tenant: str) -> str | None:
    return next((t for t, s in tokens.items() if s == tenant), None) or \
        next((t for t, s in tokens.items() if s == "*"), None)


def fetch(settings, tokens: dict[str, str], tenant: str, what: str) -> tuple[dict | None, str | None]:
    """(answer, None) or (None, why not)."""
    base = settings.ops_api_url or f"http://127.0.0.1:{settings.web_port}"
    token = _token(tokens, tenant)
    if token is None:
        return None, "no ops token for your agency is configured (BACKOFFICE_OPS_TOKENS)"
    try:
        answer = httpx.get(f"{base.rstrip('/')}/api/v1/tenants/{tenant}/{what}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except httpx.HTTPError as exc:
        return None, f"the worker's ops API at {base} did not answer ({exc.__class__.__name__})"
    if answer.status_code != 200:
        return None, f"the worker's ops API answered {answer.status_code}: {answer.text[:200]}"
    return answer.json(), None
