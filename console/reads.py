"""Reads the console needs beyond readmodel/queries.py, each scoped by tenant: the last number
issued, a pay line of the tenant, credits already made against a line, New invoices of an
account, dead letters with their place, the original bytes of one."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from readmodel import models as m
from readmodel.queries import _row, short_id


def last_number(engine, tenant: str) -> int | None:
    """The highest numeric document number the tenant has issued (Generate defaults to it + 1)."""
    i = m.invoices.c
    with engine.connect() as c:
        numbers = c.execute(sa.select(i.number).where(i.tenant_id == tenant, i.number.is_not(None))).scalars()
        found = [int(n) for n in numbers if str(n).isdigit()]
    return max(found) if found else None


def pay_line(engine, tenant: str, ref: str) -> dict | None:
    """One pay line of the tenant by full or short id; None for another tenant's line."""
    p = m.pay_lines.c
    with engine.connect() as c:
        if ":" in ref:
            rows = c.execute(sa.select(m.pay_lines).where(p.tenant_id == tenant, p.pay_line_id == ref)).all()
        else:
            rows = [r for r in c.execute(sa.select(m.pay_lines).where(p.tenant_id == tenant))
                    if short_id(r.pay_line_id) == ref.lower()]
        if len(rows) != 1:
            return None
        line = _row(rows[0])
        line["short_id"] = short_id(line["pay_line_id"])
        if line["invoice_id"]:
            line["invoice_number"] = c.execute(sa.select(m.invoices.c.number).where(
                m.invoices.c.invoice_id == line["invoice_id"], m.invoices.c.tenant_id == tenant)).scalar()
        credited = c.execute(sa.select(sa.func.coalesce(sa.func.sum(p.amount), 0)).where(
            p.tenant_id == tenant, p.credited_line_id == line["pay_line_id"], p.status != "REMOVED")).scalar()
    # credit lines carry negative amounts; what is left to credit is the line less what was credited
    line["remaining"] = (line["amount"] - abs(Decimal(credited))).quantize(Decimal("0.01"))
    return line


def placements(engine, tenant: str) -> list[str]:
    p = m.pay_lines.c
    with engine.connect() as c:
        return list(c.execute(sa.select(p.placement_id).where(p.tenant_id == tenant).distinct()
                              .order_by(p.placement_id)).scalars())


def new_invoices_of(engine, tenant: str, account_ids: set[str]) -> list[dict]:
    i = m.invoices.c
    with engine.connect() as c:
        return [_row(r) for r in c.execute(sa.select(i.invoice_id, i.number, i.account_id, i.account_name, i.total,
                                                     i.currency, i.kind).where(
            i.tenant_id == tenant, i.status == "NEW", i.kind == "INVOICE", i.account_id.in_(account_ids))
            .order_by(i.number))]


def currency(engine, tenant: str) -> str:
    i = m.invoices.c
    with engine.connect() as c:
        return c.execute(sa.select(i.currency).where(i.tenant_id == tenant).limit(1)).scalar() or "USD"


def dead_letters(engine, tenant: str) -> list[dict]:
    d = m.dead_letters.c
    stmt = (sa.select(d.topic, d.partition, d.offset, d.original_topic, d.original_partition, d.original_offset,
                      d.error_type, d.error, d.first_seen, sa.func.length(d.original_value).label("size"))
            .where(d.tenant_id == tenant).order_by(d.first_seen, d.topic, d.offset))
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(stmt)]


def dead_letter_value(engine, tenant: str, topic: str, partition: int, offset: int) -> bytes | None:
    d = m.dead_letters.c
    with engine.connect() as c:
        return c.execute(sa.select(d.original_value).where(d.tenant_id == tenant, d.topic == topic,
                                                           d.partition == partition, d.offset == offset)).scalar()


def sync_summary(engine, tenant: str) -> list[dict]:
    """Per AR/GL system: documents per newest sync status, the last error and when it was seen."""
    s = m.sync_status.c
    out: dict[str, dict] = {}
    with engine.connect() as c:
        for r in c.execute(sa.select(s.system, s.status, s.error, s.occurred_at).where(s.tenant_id == tenant)
                           .order_by(s.occurred_at)):
            row = out.setdefault(r.system, {"system": r.system, "counts": {}, "last_error": None, "last_seen": None})
            row["counts"][r.status] = row["counts"].get(r.status, 0) + 1
            row["last_seen"] = r.occurred_at
            if r.error:
                row["last_error"] = r.error
    return [out[k] for k in sorted(out)]
