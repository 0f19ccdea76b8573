"""Two agencies' rows in a read model (SQLite, migrated by Alembic), a stored PDF for one, and
a console app over them whose commands go to a recorder: what the route tests need."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import sqlalchemy as sa
from pydantic import SecretStr

from readmodel import models as m
from readmodel.db import engine_for, migrate
from readmodel.queries import short_id

NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.timezone.utc)
PASSWORD = "correct horse battery"


def tenant_rows(tenant: str, number: str, account_name: str, placement: str) -> dict:
    """One invoice with one line, its pay line, one pending line, a dead letter and an outcome."""
    invoice_id = f"{tenant}-inv-{number}"
    batch = f"{tenant}-batch-1"
    account = f"{tenant}-acct"
    line_id = f"{tenant}:{placement}|TS|w1"
    pending_id = f"{tenant}:{placement}|TS|w2"
    pay = dict(tenant_id=tenant, version=1, last_change="INVOICED", changed_at=NOW, placement_id=placement,
               placement_type="TEMP", account_id=account, source="TIMESHEET", category="TIMESHEETS",
               quantity=Decimal("40"), rate=Decimal("25"), amount=Decimal("1000.00"), taxable=True,
               effective_date=NOW.date(), work_date=NOW.date())
    return {
        "ids": {"tenant": tenant, "invoice_id": invoice_id, "number": number, "batch": batch, "account": account,
                "account_name": account_name, "placement": placement, "line": line_id, "line_short": short_id(line_id),
                "pending": pending_id, "pending_short": short_id(pending_id), "dlq_topic": "ats.timesheets.dlq",
                "dlq_partition": 0, "dlq_offset": int(number), "dlq_error": f"broken timesheet of {account_name}"},
        m.invoices: [dict(invoice_id=invoice_id, tenant_id=tenant, number=number, kind="INVOICE", status="NEW",
                          last_event="GENERATED", updated_at=NOW, batch_id=batch, account_id=account,
                          account_name=account_name, grouping_key=account, currency="USD", subtotal=Decimal("1000.00"),
                          tax=Decimal("0.00"), total=Decimal("1000.00"), issue_date=NOW.date(), due_date=NOW.date(),
                          period_start=NOW.date() - dt.timedelta(days=6), period_end=NOW.date(), line_count=1)],
        m.invoice_lines: [dict(invoice_id=invoice_id, position=0, line_id=f"{invoice_id}#0", pay_line_id=line_id,
                               placement_id=placement, description=f"Hours of {placement}", quantity=Decimal("40"),
                               rate=Decimal("25"), amount=Decimal("1000.00"), taxable=True, category="TIMESHEETS",
                               status="INVOICED", work_date=NOW.date())],
        m.pay_lines: [dict(pay, pay_line_id=line_id, status="INVOICED", description=f"Hours of {placement}",
                           invoice_id=invoice_id),
                      dict(pay, pay_line_id=pending_id, status="PENDING", last_change="DUE",
                           description=f"More hours of {placement}", invoice_id=None)],
        m.invoice_events: [dict(event_id=f"{invoice_id}-e1", invoice_id=invoice_id, tenant_id=tenant,
                                event_type="GENERATED", status="NEW", occurred_at=NOW, partition=0, offset=int(number))],
        m.dead_letters: [dict(topic="ats.timesheets.dlq", partition=0, offset=int(number), event_id=f"{tenant}-dl",
                              tenant_id=tenant, original_topic="ats.timesheets", original_partition=1,
                              original_offset=7, original_value=f"bytes of {tenant}".encode(),
                              error_type="WrongSchema", error=f"broken timesheet of {account_name}", first_seen=NOW)],
    }


def seed_read_model(url: str, *tenants: dict) -> sa.Engine:
    engine = engine_for(url)
    migrate(engine)
    with engine.begin() as c:
        for rows in tenants:
            for table, values in rows.items():
                if table != "ids":
                    c.execute(table.insert(), values)
    return engine


class Recorder:
    """Stands in for the broker round trip in these in-process tests: records every command the
    console would publish and answers it (ok unless told to refuse with a reason)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.records: list[dict] = []
        self.refuse: str | None = None

    def __call__(self, records: list[dict], timeout: float) -> dict[str, dict]:
        self.records += records
        answers = {r["command_id"]: {"command_id": r["command_id"], "ok": self.refuse is None,
                                     "message": self.refuse or f"{r['command']} carried out", "findings": [],
                                     "batch_id": None, "invoice_ids": []} for r in records}
        with self.engine.begin() as c:      # as the projector would: the outcome reaches the read model
            for r in records:
                a = answers[r["command_id"]]
                c.execute(m.command_outcomes.insert().values(
                    command_id=r["command_id"], event_id=r["command_id"], tenant_id=r["tenant_id"],
                    command=r["command"], ok=a["ok"], message=a["message"], invoice_ids="[]", findings="[]",
                    occurred_at=NOW))
        return answers


def console_settings(tmp_path, tokens: dict[str, str], **extra):
    from infra.settings import load_settings

    return load_settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'rm.sqlite3'}",
                         console_database_url=f"sqlite:///{tmp_path / 'console.sqlite3'}",
                         ops_tokens=SecretStr(json.dumps(tokens)), console_secret_key=SecretStr("k" * 40),
                         ops_api_url="http://127.0.0.1:9", console_command_timeout=2, **extra)
