"""The ops HTTP API (JSON), served by each worker's web server (workers/api_views.py).

- Auth: `Authorization: Bearer <token>`; BACKOFFICE_OPS_TOKENS is a JSON object
  {token: tenant id, or "*" for an operator of every tenant}. No token or an unknown one
  is a 401; a tenant token asking for another tenant is a 403.
- Reads answer from the tables of the worker that receives the request. Run the API on a
  single worker (or put one worker's port behind the load balancer's ops route): tables
  are partitioned, so a second worker only sees its own partitions. Every read says how
  many ledger partitions it covered (`coverage`), so a partial answer never passes for a
  whole one.
- Writes publish the same billing.commands records as the CLI and answer 202 with the
  command id; `?wait=SECONDS` waits for the outcome on billing.outcomes.
- Bad input: 400/422 with {"error": ..., "field": ...} naming the offending field.
"""
