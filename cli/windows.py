"""`backoffice windows`: a tenant's batch windows from the ops API (`backoffice api`, answered from
the read model): scheduled, blocked by the health check (why, since when, attempts; the scheduler
retries them on each cycle), closed and refused."""
from __future__ import annotations

import json

import click
import httpx

from cli.common import settings_or_exit
from cli.main import cli

COLUMNS = (("WINDOW", "window_id"), ("STATUS", "status"), ("PERIOD", None), ("SINCE", "since"),
           ("ATTEMPTS", "attempts"), ("INVOICES", "invoice_count"), ("RUN AT / REASON", None))


def fetch_windows(api: str, tenant: str, token: str | None, timeout: float = 30) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.get(f"{api.rstrip('/')}/api/v1/tenants/{tenant}/windows", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the ops API at {api}: {exc}") from None
    if answer.status_code != 200:
        try:
            message = answer.json().get("error", answer.text)
        except ValueError:
            message = answer.text
        raise click.ClickException(f"ops API answered {answer.status_code}: {message}")
    return answer.json()


def _cells(row: dict) -> list[str]:
    period = f"{row['period_start'] or '?'}..{row['period_end']}"
    last = row["reason"] if row["status"] in ("BLOCKED", "IN_PROGRESS") and row["reason"] else row["run_at"]
    return [row["window_id"], row["status"], period, row["since"] or "", "" if row["attempts"] is None else
            str(row["attempts"]), "" if row["invoice_count"] is None else str(row["invoice_count"]), last or ""]


def table(answer: dict) -> str:
    rows = [[name for name, _ in COLUMNS]] + [_cells(r) for r in answer["windows"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(r, widths)] + [r[-1]]).rstrip() for r in rows]
    if not answer.get("served_here", True):
        lines.append(f"(this worker does not hold tenant {answer['tenant_id']}'s window state: ask the one that does)")
    if answer.get("scheduled", "").startswith("left out"):
        lines.append(f"(scheduled windows {answer['scheduled']})")
    return "\n".join(lines)


@cli.command()
@click.option("--tenant", required=True)
@click.option("--api", default=None, help="Ops API base address (default BACKOFFICE_OPS_API_URL, else "
                                           "http://127.0.0.1:<BACKOFFICE_API_PORT>, `backoffice api`).")
@click.option("--token", default=None, help="Bearer token (default BACKOFFICE_OPS_TOKEN).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def windows(tenant, api, token, as_json) -> None:
    """A tenant's batch windows: scheduled, in progress, blocked (why, since when), closed."""
    settings = settings_or_exit()
    answer = fetch_windows(api or settings.ops_api_url or f"http://127.0.0.1:{settings.api_port}", tenant,
                           token or settings.ops_token)
    click.echo(json.dumps(answer, indent=2) if as_json else table(answer))
