"""The health check's findings and the batch windows, read from the read model with the ops API's
own functions (readmodel.queries.latest_health, api/windows.py), so the console and `backoffice api` always say the
same. A read model that cannot be read is said in words, not a 500."""
from __future__ import annotations

import sqlalchemy as sa


def fetch(app, tenant: str, what: str) -> tuple[dict | None, str | None]:
    """(answer, None) or (None, why not); `what` is "health" or "windows"."""
    from api.windows import tenant_windows
    from readmodel import queries as q
    from workers import clock      # the deployment's clock (BACKOFFICE_CLOCK in demos), as the API's

    try:
        if what == "health":
            return q.latest_health(app.engine, tenant), None
        if what == "windows":
            return tenant_windows(tenant, q.outcomes_of(app.engine, tenant, prefix=f"close:{tenant}:"),
                                  q.outcomes_of(app.engine, tenant, ("SET_INVOICE_SETUP",)), app.settings,
                                  clock.now()), None
    except sa.exc.SQLAlchemyError as exc:
        return None, f"the read model could not be read ({exc.__class__.__name__})"
    raise ValueError(f"unknown read {what!r}")
