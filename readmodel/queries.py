"""The clerk's reads: SQLAlchemy selects on the read model returning plain dicts (JSON-ready
once `plain()` turns Decimals and dates into strings). No Kafka, no clock: the CLI formats,
tests run them on SQLite with rows built by readmodel.rows from real events.

People name invoices by NUMBER (per tenant) and accounts by name; `resolve_invoice` turns a
number (or an internal id) into the invoice id the commands carry, and refuses when it is
unknown or ambiguous.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from readmodel import models as m

CENT = Decimal("0.01")
CATEGORY_LABEL = {"TIMESHEETS": "Timesheets", "PRODUCTS_SERVICES": "Products & Services"}


class LookupRefused(LookupError):
    """An invoice number that names no invoice, or more than one."""


def short_id(pay_line_id: str) -> str:
    """A stable 8-hex handle for a pay line (its full id is tenant:placement|source|...)."""
    return hashlib.sha1(pay_line_id.encode()).hexdigest()[:8]


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT)


def _row(r) -> dict:
    d = dict(r._mapping)
    for k in ("subtotal", "tax", "total", "amount", "tax_share", "line_total"):
        if k in d:
            d[k] = _money(d[k])
    for k in ("quantity", "rate"):
        if d.get(k) is not None:
            d[k] = Decimal(d[k]).normalize()
    return d


def plain(value):
    """For --json: Decimals as strings (no float rounding), dates ISO."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def resolve_pay_line(engine: Engine, ref: str) -> str:
    """A pay line's full id from its short id (as `lines` shows it); a full id passes as is."""
    if ":" in ref:
        return ref
    with engine.connect() as c:
        found = [i for i in c.execute(sa.select(m.pay_lines.c.pay_line_id)).scalars() if short_id(i) == ref.lower()]
    if len(found) != 1:
        raise LookupRefused(f"no pay line has the short id {ref}" if not found else
                            f"short id {ref} names {len(found)} pay lines: give the full id")
    return found[0]


# -- invoices ----------------------------------------------------------------------------------
def resolve_invoice(engine: Engine, tenant: str, ref: str) -> str:
    """The invoice id `ref` names in `tenant`: an internal id as is, else a document number."""
    i = m.invoices.c
    with engine.connect() as c:
        if c.execute(sa.select(i.invoice_id).where(i.invoice_id == ref, i.tenant_id == tenant)).first():
            return ref
        found = c.execute(sa.select(i.invoice_id, i.kind).where(i.tenant_id == tenant, i.number == ref)).all()
    if not found:
        raise LookupRefused(f"tenant {tenant} has no invoice numbered {ref} in the read model")
    if len(found) > 1:
        kinds = ", ".join(f"{iid} ({kind})" for iid, kind in found)
        raise LookupRefused(f"number {ref} names {len(found)} documents of tenant {tenant}: {kinds}; "
                            f"give the invoice id instead")
    return found[0][0]


def _invoice_filters(tenant, status, account, batch, period):
    i = m.invoices.c
    where = []
    if tenant:
        where.append(i.tenant_id == tenant)
    if status:
        where.append(i.status == status.upper())
    if account:
        where.append(sa.or_(i.account_id == account, i.account_name == account))
    if batch:
        where.append(i.batch_id == batch)
    if period:
        where.append(i.period_end == (period if isinstance(period, dt.date) else dt.date.fromisoformat(period)))
    return where


def invoices(engine: Engine, tenant: str | None = None, status: str | None = None, account: str | None = None,
             batch: str | None = None, period=None) -> list[dict]:
    """Documents filtered by tenant, status, account (id or name), batch and period end."""
    i = m.invoices.c
    stmt = (sa.select(i.tenant_id, i.number, i.invoice_id, i.kind, i.status, i.batch_id, i.account_id,
                      i.account_name, i.period_start, i.period_end, i.issue_date, i.due_date, i.currency,
                      i.subtotal, i.tax, i.total, i.line_count, i.updated_at)
            .where(*_invoice_filters(tenant, status, account, batch, period))
            .order_by(i.tenant_id, i.batch_id, i.number, i.invoice_id))
    with engine.connect() as c:
        return [_row(r) for r in c.execute(stmt)]


def invoice_detail(engine: Engine, tenant: str, ref: str) -> dict:
    """One document by number (or id): header, lines, sync status per system, history."""
    invoice_id = resolve_invoice(engine, tenant, ref)
    with engine.connect() as c:
        head = _row(c.execute(sa.select(m.invoices).where(m.invoices.c.invoice_id == invoice_id)).one())
        lines = [_row(r) for r in c.execute(sa.select(m.invoice_lines).where(
            m.invoice_lines.c.invoice_id == invoice_id).order_by(m.invoice_lines.c.position))]
        sync = [_row(r) for r in c.execute(sa.select(m.sync_status).where(
            m.sync_status.c.invoice_id == invoice_id).order_by(m.sync_status.c.system))]
        e = m.invoice_events.c
        history = [_row(r) for r in c.execute(sa.select(e.event_type, e.status, e.occurred_at).where(
            e.invoice_id == invoice_id).order_by(e.offset))]
    for line in lines:
        line["short_id"] = short_id(line["pay_line_id"])
    head["document_uris"] = json.loads(head.get("document_uris") or "[]")
    head["allocations"] = [{"invoice_id": a["invoice_id"], "amount": Decimal(a["amount"])}
                           for a in json.loads(head.get("allocations") or "[]")]
    return {**head, "lines": lines, "sync": sync, "history": history}


# -- batches -----------------------------------------------------------------------------------
def batches(engine: Engine, tenant: str | None = None) -> dict:
    """List Batches: previous batches with their documents, and what is pending per account,
    split Timesheets / Products & Services (seed 000)."""
    per_batch: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for inv in invoices(engine, tenant=tenant):
        per_batch[(inv["tenant_id"], inv["batch_id"])].append(inv)
    listed = []
    for (t, b), docs in per_batch.items():
        listed.append({"tenant_id": t, "batch_id": b, "documents": len(docs),
                       "created_at": min(d["updated_at"] for d in docs),
                       "total": sum((d["total"] for d in docs), Decimal(0)),
                       "invoices": [{k: d[k] for k in ("number", "invoice_id", "kind", "status", "account_name",
                                                       "total")} for d in docs]})
    listed.sort(key=lambda x: (x["tenant_id"], str(x["created_at"]), x["batch_id"]))
    p = m.pay_lines.c
    where = [p.status == "PENDING", p.window_key.is_(None)]
    if tenant:
        where.append(p.tenant_id == tenant)
    stmt = (sa.select(p.tenant_id, p.account_id, p.category, sa.func.count(), sa.func.sum(p.amount))
            .where(*where).group_by(p.tenant_id, p.account_id, p.category))
    names = _account_names(engine, tenant)
    pending: dict[tuple[str, str], dict] = {}
    with engine.connect() as c:
        for t, account, category, n, amount in c.execute(stmt):
            row = pending.setdefault((t, account), {
                "tenant_id": t, "account_id": account, "account_name": names.get((t, account)),
                "timesheets": {"lines": 0, "amount": Decimal("0.00")},
                "products_services": {"lines": 0, "amount": Decimal("0.00")}})
            part = row["timesheets" if category == "TIMESHEETS" else "products_services"]
            part["lines"] += n
            part["amount"] += _money(amount)
    return {"batches": listed, "pending": [pending[k] for k in sorted(pending, key=lambda k: (k[0], k[1] or ""))]}


def _account_names(engine: Engine, tenant: str | None) -> dict[tuple[str, str], str]:
    """Account names as the invoices print them (the newest document's name)."""
    i = m.invoices.c
    stmt = sa.select(i.tenant_id, i.account_id, i.account_name).order_by(i.updated_at)
    if tenant:
        stmt = stmt.where(i.tenant_id == tenant)
    with engine.connect() as c:
        return {(t, a): n for t, a, n in c.execute(stmt)}


# -- pay lines, dead letters -------------------------------------------------------------------
def lines(engine: Engine, tenant: str | None = None, status: str | None = None, account: str | None = None,
          placement_type: str | None = None, credit_memos: bool = False) -> list[dict]:
    """Pay lines (REMOVED ones left out unless asked by status), short ids added."""
    p = m.pay_lines.c
    where = [p.status == status.upper()] if status else [p.status != "REMOVED"]
    if tenant:
        where.append(p.tenant_id == tenant)
    if account:
        named = [a for (t, a), n in _account_names(engine, tenant).items() if n == account]
        where.append(p.account_id.in_([account, *named]))
    if placement_type:
        where.append(p.placement_type == placement_type.upper())
    if credit_memos:
        where.append(p.source == "CREDIT")
    stmt = (sa.select(p.tenant_id, p.pay_line_id, p.status, p.last_change, p.version, p.placement_id,
                      p.placement_type, p.account_id, p.source, p.category, p.description, p.quantity, p.rate,
                      p.amount, p.work_date, p.window_key, p.invoice_id, p.credited_invoice_id, p.reason)
            .where(*where).order_by(p.tenant_id, p.account_id, p.work_date, p.pay_line_id))
    with engine.connect() as c:
        found = [_row(r) for r in c.execute(stmt)]
        numbers = dict(c.execute(sa.select(m.invoices.c.invoice_id, m.invoices.c.number).where(
            m.invoices.c.invoice_id.in_({x["invoice_id"] for x in found if x["invoice_id"]}))).all())
    for x in found:
        x["short_id"] = short_id(x["pay_line_id"])
        x["invoice_number"] = numbers.get(x["invoice_id"])
    return found


def dead_letters(engine: Engine, tenant: str | None = None) -> list[dict]:
    d = m.dead_letters.c
    stmt = (sa.select(d.tenant_id, d.topic, d.original_topic, d.original_partition, d.original_offset,
                      d.original_key, d.error_type, d.error, d.first_seen).order_by(d.first_seen, d.topic, d.offset))
    if tenant:
        stmt = stmt.where(d.tenant_id == tenant)
    with engine.connect() as c:
        return [_row(r) for r in c.execute(stmt)]


# -- read your writes --------------------------------------------------------------------------
def projected_outcome(engine: Engine, command_id: str) -> dict | None:
    """The command's outcome as projected, with which of its invoices the read model holds."""
    with engine.connect() as c:
        row = c.execute(sa.select(m.command_outcomes).where(m.command_outcomes.c.command_id == command_id)).first()
        if row is None:
            return None
        out = _row(row)
        ids = json.loads(out["invoice_ids"])
        held = set(c.execute(sa.select(m.invoices.c.invoice_id).where(m.invoices.c.invoice_id.in_(ids))).scalars())
    return {**out, "invoice_ids": ids, "missing_invoices": sorted(set(ids) - held)}


def invoiced_on(engine: Engine, invoice_id: str) -> int:
    """How many pay lines the read model still shows Invoiced on this document."""
    p = m.pay_lines.c
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).where(p.invoice_id == invoice_id, p.status == "INVOICED")).scalar()


def positions(engine: Engine, group: str) -> dict[tuple[str, int], int]:
    c_ = m.consumer_positions.c
    with engine.connect() as c:
        return {(t, p): o for t, p, o in c.execute(
            sa.select(c_.topic, c_.partition, c_.next_offset).where(c_.group_id == group))}


def behind(engine: Engine, group: str, ends: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Partitions where the projector has not reached `ends` yet: {(topic, partition): messages left}."""
    held = positions(engine, group)
    return {k: end - held.get(k, 0) for k, end in ends.items() if held.get(k, 0) < end}


# -- the ops API (`backoffice api`) -------------------------------------------------------------
def batch_exists(engine: Engine, tenant: str, batch_id: str) -> bool:
    """Whether `tenant` has a document in batch `batch_id` (another tenant's batch is not its)."""
    i = m.invoices.c
    with engine.connect() as c:
        return c.execute(sa.select(i.invoice_id).where(i.tenant_id == tenant, i.batch_id == batch_id).limit(1)
                         ).first() is not None


def batch_summaries(engine: Engine, tenant: str) -> list[dict]:
    """List Batches' rows, newest first: period, counts, first/last number, amounts per category
    (sums of the documents' line amounts), and how many documents are in each sync status (the
    newest status of any AR/GL system; NOT_SYNCED when none answered)."""
    i, x = m.invoices.c, m.invoice_lines.c
    with engine.connect() as c:
        docs = c.execute(sa.select(i.invoice_id, i.batch_id, i.kind, i.number, i.period_start, i.period_end,
                                   i.updated_at).where(i.tenant_id == tenant)).all()
        started = dict(c.execute(sa.select(m.invoice_events.c.invoice_id, sa.func.min(m.invoice_events.c.occurred_at))
                                 .where(m.invoice_events.c.tenant_id == tenant)
                                 .group_by(m.invoice_events.c.invoice_id)).all())
        amounts = c.execute(sa.select(i.batch_id, x.category, sa.func.sum(x.amount))
                            .select_from(m.invoice_lines.join(m.invoices, i.invoice_id == x.invoice_id))
                            .where(i.tenant_id == tenant).group_by(i.batch_id, x.category)).all()
    synced = newest_sync(engine, [d.invoice_id for d in docs])
    rows: dict[str, dict] = {}
    for d in docs:
        row = rows.setdefault(d.batch_id, {"batch_id": d.batch_id, "created_at": None, "period_start": None,
                                           "period_end": None, "invoice_count": 0, "credit_memo_count": 0,
                                           "numbers": [], "amount_timesheets": Decimal("0.00"),
                                           "amount_products_services": Decimal("0.00"), "sync_status": {}})
        created = started.get(d.invoice_id) or d.updated_at
        row["created_at"] = created if row["created_at"] is None else min(row["created_at"], created)
        for k, pick in (("period_start", min), ("period_end", max)):
            value = getattr(d, k)
            if value is not None:
                row[k] = value if row[k] is None else pick(row[k], value)
        row["invoice_count" if d.kind == "INVOICE" else "credit_memo_count"] += 1
        if d.number and d.number.isdigit():
            row["numbers"].append(int(d.number))
        status = synced.get(d.invoice_id, "NOT_SYNCED")
        row["sync_status"][status] = row["sync_status"].get(status, 0) + 1
    for batch_id, category, amount in amounts:
        key = "amount_timesheets" if category == "TIMESHEETS" else "amount_products_services"
        rows[batch_id][key] += _money(amount)
    out = []
    for row in rows.values():
        numbers = row.pop("numbers")
        row.update(first_number=str(min(numbers)) if numbers else None,
                   last_number=str(max(numbers)) if numbers else None,
                   sync_status=dict(sorted(row["sync_status"].items())))
        out.append(row)
    return sorted(out, key=lambda r: (str(r["created_at"]), r["batch_id"]), reverse=True)


def newest_sync(engine: Engine, invoice_ids) -> dict[str, str]:
    """{invoice id: the status of its newest AR/GL sync outcome, any system} for those with one."""
    s = m.sync_status.c
    newest: dict[str, tuple] = {}
    with engine.connect() as c:
        for invoice_id, status, at in c.execute(sa.select(s.invoice_id, s.status, s.occurred_at)
                                                .where(s.invoice_id.in_(list(invoice_ids)))):
            if invoice_id not in newest or at > newest[invoice_id][1]:
                newest[invoice_id] = (status, at)
    return {i: status for i, (status, _) in newest.items()}


def outcomes_of(engine: Engine, tenant: str, commands: tuple[str, ...] | None = None,
                prefix: str | None = None) -> list[dict]:
    """The tenant's command outcomes (optionally of these kinds, or with command ids starting with
    `prefix`), oldest first, findings and invoice ids as lists."""
    o = m.command_outcomes.c
    where = [o.tenant_id == tenant]
    if commands:
        where.append(o.command.in_(commands))
    if prefix:
        where.append(o.command_id.startswith(prefix, autoescape=True))
    with engine.connect() as c:
        found = [_row(r) for r in c.execute(sa.select(m.command_outcomes).where(*where)
                                            .order_by(o.occurred_at, o.command_id))]
    for r in found:
        r["findings"], r["invoice_ids"] = json.loads(r["findings"]), json.loads(r["invoice_ids"])
    return found


HEALTH_COMMANDS = ("GENERATE", "CLOSE_WINDOW", "CONSOLIDATE")


def latest_health(engine: Engine, tenant: str) -> dict:
    """The findings of the tenant's latest health check: each Generate, scheduled close and
    Consolidate runs one over the pending lines first and answers its findings in the outcome.
    `checked_at` (UTC, ISO) and `command_id` say which; both None when none has run yet."""
    ran = [o for o in outcomes_of(engine, tenant, HEALTH_COMMANDS) if o["ok"] or o["findings"]]
    last = ran[-1] if ran else None
    findings = [{k: f.get(k) or "" for k in ("severity", "code", "message", "ref")}
                for f in (last or {}).get("findings", [])]
    at = last["occurred_at"] if last else None
    if isinstance(at, dt.datetime):         # SQLite hands back naive datetimes; they are UTC
        at = (at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)).isoformat()
    return {"tenant_id": tenant, "ok": not any(f["severity"] == "ERROR" for f in findings), "findings": findings,
            "checked_at": None if at is None else str(at), "command_id": last["command_id"] if last else None}
