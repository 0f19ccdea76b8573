"""What the ops API (api/, `backoffice api`) and the worker's web server share: bearer tokens
(auth.py: BACKOFFICE_OPS_TOKENS = {token: tenant id or "*"}), the door rules (gate.py: only
/healthz, /readyz and /metrics are open; a route of a tenant needs that tenant's token or "*",
any other route an operator's), and bounded JSON bodies (bodies.py: size and nesting checked
before parsing). The worker serves only its probes now; the API answers from the read model.
"""
