"""Consolidation + numbering time for N pending pay lines across 5,000 accounts.

Headline: `seconds` for 100,000 lines (target < 2 s); 10k and 1M show the growth
(set BENCH_DOMAIN_MAX=100000 to skip the 1M point on a busy machine).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backoffice.billto import BilltoHierarchy  # noqa: E402
from backoffice.generation import GenerationRequest, generate_invoices  # noqa: E402
from backoffice.model import (  # noqa: E402
    BatchOption, BilltoNode, Contact, EntityType, PayCode, PayLine, PayLineSource, Placement, PlacementType,
)
from backoffice.numbering import TenantSequence  # noqa: E402

ACCOUNTS = 5000
DAY = dt.date(2026, 11, 22)


def build(n_lines: int, seed: int = 1):
    rng = random.Random(seed)
    nodes = [BilltoNode("t", EntityType.COMPANY, "co", None, None)]
    for a in range(ACCOUNTS):
        nodes.append(BilltoNode("t", EntityType.CLIENT, f"cl{a}", "co", f"Account {a:05d}",
                                Contact(f"AP {a}", f"ap{a}@x.example"), tax_rate=Decimal("0.0825")))
    placements = {}
    n_placements = max(ACCOUNTS, n_lines // 4)
    for p in range(n_placements):
        pid = f"p{p}"
        placements[pid] = Placement("t", pid, PlacementType.TEMP, f"Candidate {p}", "co", f"cl{p % ACCOUNTS}", None,
                                    rng.choice(list(BatchOption)), f"PO-{p % 7}", None,
                                    bill_rates=((PayCode.REG, Decimal("40.00")),))
    lines = []
    for i in range(n_lines):
        pid = f"p{i % n_placements}"
        qty = Decimal(rng.randint(1, 160)) / 4
        lines.append(PayLine("t", f"t:{pid}|TS|ts{i}|REG", pid, PayLineSource.TIMESHEET, "Regular hours", qty,
                             Decimal("40.00"), qty * Decimal("40.00"), DAY, DAY, True, pay_code=PayCode.REG))
    return lines, placements, BilltoHierarchy(nodes)


def run(n_lines: int) -> dict:
    lines, placements, hierarchy = build(n_lines)
    req = GenerationRequest("t", "WEEKLY:2026-11-22", dt.date(2026, 11, 24), DAY - dt.timedelta(days=6), DAY,
                            dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc))
    t0 = time.perf_counter()
    result = generate_invoices(lines, placements, hierarchy, TenantSequence("t"), req)
    seconds = time.perf_counter() - t0
    assert result.report.ok and sum(len(i.lines) for i in result.invoices) == n_lines
    return {"lines": n_lines, "invoices": len(result.invoices), "seconds": round(seconds, 3),
            "lines_per_s": round(n_lines / seconds)}


def main() -> None:
    top = int(os.environ.get("BENCH_DOMAIN_MAX", "1000000"))
    points = [run(n) for n in (10_000, 100_000, 1_000_000) if n <= top]
    for p in points:
        print(f"{p['lines']:>9} lines -> {p['invoices']:>6} invoices in {p['seconds']:>7.3f} s "
              f"({p['lines_per_s']:,} lines/s)")
    headline = next(p for p in points if p["lines"] == 100_000)
    growth = {f"{b['lines']}/{a['lines']}": round(b["seconds"] / a["seconds"], 2) for a, b in zip(points, points[1:])}
    print(f"seconds (100k lines, 5,000 accounts) = {headline['seconds']}; growth per 10x lines: {growth}")
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "domain.json").write_text(json.dumps({"seconds": headline["seconds"], "points": points,
                                                  "growth_per_10x": growth}, indent=1) + "\n")


if __name__ == "__main__":
    main()
