"""The Back Office console: server-rendered screens for billing clerks (issue 17, seeds 000 and
003). It reads the read model (readmodel/queries.py) and acts by publishing operator commands
(ops/commands.py), scoped to the logged-in user's tenant on every route."""
