"""The simulator as the oracle: which pay lines a run must have invoiced, exactly once each."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Iterable


def expected_line_id(x: dict) -> str:
    base = f"{x['tenant_id']}:{x['placement_id']}"
    if x["source"] == "FEE":
        return f"{base}|FEE|{x['fee_id']}"
    line = f"{base}|TS|{x['timesheet_id']}|{x['pay_code']}"
    part = x.get("period_end")          # a week split at a semi-monthly or monthly period end
    return f"{line}|{dt.date.fromisoformat(part):%Y%m%d}" if part else line


def due_by(expected_pay_lines: Iterable[dict], as_of: dt.date) -> dict[str, Decimal]:
    """pay_line_id -> amount of every expected line effective on or before `as_of`."""
    return {expected_line_id(x): Decimal(x["amount"]) for x in expected_pay_lines
            if dt.date.fromisoformat(x["effective_date"]) <= as_of}


def assert_invoiced_exactly_once(invoiced: Iterable[tuple[str, Decimal]], expected: dict[str, Decimal]) -> None:
    """`invoiced`: (pay_line_id, amount) of every line on every invoice of the run."""
    pairs = list(invoiced)
    seen = Counter(k for k, _ in pairs)
    assert not [k for k, n in seen.items() if n > 1], "invoiced twice"
    missing, extra = set(expected) - set(seen), set(seen) - set(expected)
    assert not missing and not extra, (sorted(missing)[:5], sorted(extra)[:5])
    wrong = [(k, a, expected[k]) for k, a in pairs if a != expected[k]]
    assert not wrong, wrong[:5]


def assert_gapless(numbers_by_tenant: dict[str, list[int]], tenants: Iterable[str]) -> None:
    for tenant in tenants:
        numbers = sorted(numbers_by_tenant.get(tenant, []))
        assert numbers and numbers == list(range(1, len(numbers) + 1)), (tenant, numbers)


def prefixed(stream, prefix: str):
    """The simulator's stream with every tenant id prefixed, so tests sharing the session broker
    never see each other's tenants; returns (stream, its tenant ids)."""
    from dataclasses import replace

    def retag(ev):
        rec = dict(ev.record)
        rec["tenant_id"] = f"{prefix}-{rec['tenant_id']}"
        return replace(ev, key=f"{prefix}-{ev.key.decode()}".encode(), record=rec)

    stream.events = [retag(e) for e in stream.events]
    stream.expected_pay_lines = [dict(x, tenant_id=f"{prefix}-{x['tenant_id']}") for x in stream.expected_pay_lines]
    return stream, sorted({e.record["tenant_id"] for e in stream.events})
