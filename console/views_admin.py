"""Invoice Setup (seed 003: time zone, Week Ending Day, Invoice Delay, Preferred Start Time,
cycles; the next run times previewed with backoffice's own calendar before saving) and
Operations (consumer lag with its verdicts, the agency's dead letters with their bytes)."""
from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.responses import Response

from backoffice.invoice_setup import InvalidInvoiceSetup, parse_setup
from backoffice.model import BillingCycle
from backoffice.schedules import WEEKDAYS
from console import reads as cr
from console.web import blocking, page, refuse, render

PREVIEW_RUNS = 3


def _current(app, tenant: str) -> dict:
    s = app.settings
    return app.store.setup(tenant) or {
        "time_zone": s.timezone, "week_ending_day": s.week_ending_day, "invoice_delay_days": s.invoice_delay_days,
        "preferred_start_time": s.preferred_start_time, "cycles": [c.value for c in BillingCycle]}


def preview(setup, now: dt.datetime) -> dict[str, list[dt.datetime]]:
    """The next run times per cycle in use, from backoffice's pure schedules."""
    out = {}
    for cycle in setup.cycles:
        schedule, after, runs = setup.schedule(cycle), now, []
        for _ in range(PREVIEW_RUNS):
            window = schedule.next_window(after)
            runs.append(window)
            after = window.run_at
        out[cycle.value] = runs
    return out


def _values(form) -> dict:
    delay = (form.get("invoice_delay_days") or "").strip()
    return {"time_zone": (form.get("time_zone") or "").strip(), "week_ending_day": form.get("week_ending_day") or "",
            "invoice_delay_days": int(delay) if delay.isdigit() else delay,
            "preferred_start_time": (form.get("preferred_start_time") or "").strip(),
            "cycles": form.getlist("cycles")}


def _page(request, values, status_code=200, **extra):
    return render(request, "setup.html", status_code=status_code, v=values, weekdays=WEEKDAYS,
                  cycles=[c.value for c in BillingCycle], **extra)


@page("admin")
async def setup_form(request: Request):
    app = request.app.state.console
    values = await blocking(_current, app, request.state.tenant)
    return _page(request, values, runs=_preview_or_error(values)[0])


def _preview_or_error(values: dict):
    try:
        setup = parse_setup(values["time_zone"], values["week_ending_day"], values["invoice_delay_days"],
                            values["preferred_start_time"], values["cycles"])
    except InvalidInvoiceSetup as exc:
        return None, str(exc)
    return preview(setup, dt.datetime.now(dt.timezone.utc)), None


@page("admin")
async def setup(request: Request):
    """action=preview shows the next runs of the values typed; action=save sends SET_INVOICE_SETUP."""
    app, form, tenant = request.app.state.console, request.state.form, request.state.tenant
    values = _values(form)
    runs, error = _preview_or_error(values)
    if error or form.get("action") != "save":
        return _page(request, values, 400 if error else 200, runs=runs, error=error, previewed=not error)
    result = await blocking(app.actions.run, tenant, "SET_INVOICE_SETUP", [{
        "time_zone": values["time_zone"], "week_ending_day": values["week_ending_day"].upper(),
        "invoice_delay_days": values["invoice_delay_days"], "preferred_start_time": values["preferred_start_time"],
        "cycles": [c.upper() for c in values["cycles"]]}], "Invoice Setup")
    if result.ok:
        await blocking(app.store.save_setup, tenant, values)
    return _page(request, values, runs=runs, result=result)


@page("admin")
async def operations(request: Request):
    app, tenant = request.app.state.console, request.state.tenant
    lag, lag_error = None, None
    if app.settings.kafka_bootstrap_servers:
        from ops.lag import LagMonitor
        if app.lag_monitor is None:     # kept across views: the verdict needs several samples
            app.lag_monitor = LagMonitor(app.settings.kafka_bootstrap_servers)
        try:
            lag = await blocking(app.lag_monitor.sample)
        except Exception as exc:  # noqa: BLE001 - the broker's errors, in words
            lag_error = f"the consumer lag could not be read: {exc}"
    else:
        lag_error = "no broker is configured (KAFKA_BOOTSTRAP_SERVERS)"
    letters = await blocking(cr.dead_letters, app.engine, tenant)
    systems = await blocking(cr.sync_summary, app.engine, tenant)
    return render(request, "operations.html", lag=lag, lag_error=lag_error, letters=letters, systems=systems)


@page("admin")
async def dead_letter_bytes(request: Request):
    p = request.path_params
    value = await blocking(cr.dead_letter_value, request.app.state.console.engine, request.state.tenant,
                           p["topic"], p["partition"], p["offset"])
    if value is None:
        return refuse(request, 404, "Your agency has no such dead letter.")
    return Response(value, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{p["topic"]}-{p["partition"]}-{p["offset"]}.bin"'})
