"""The ops HTTP API (JSON), its own process (`backoffice api`): FastAPI answering from the read
model (`readmodel/`, filled by `backoffice projector`), so every answer is complete whatever the
number of workers; operator commands go on billing.commands like the CLI's.

- One door (api/doors.py, an ASGI middleware in front of every route): `Authorization: Bearer
  <token>`, BACKOFFICE_OPS_TOKENS = {token: tenant id or "*"}; no token or an unknown one is a 401,
  another tenant's token a 403, a route without a tenant needs an operator token ("*"). Only
  /healthz, /readyz and /metrics are open. Tenant segments `.`/`..` are a 400; bodies are bounded
  in bytes (413) and JSON nesting (400) before anything parses them.
- The OpenAPI document is FastAPI's, derived from the routes and api/models.py (/openapi.json).
"""
