"""PDF rendering throughput: invoices/s for 1-, 20- and 200-line invoices, one process vs a pool.

    .venv/bin/python bench/pdf.py [--count N] [--out FILE]   (N invoices of each size, default 1,000)

Prints the figures and writes bench/results/pdf.json (or --out); `speedup` is pool over single-process
throughput across all sizes, measured in the same run. `max_seconds_200_lines` is the slowest
single 200-line render (the layout must keep it under 2 s; xhtml2pdf's cost per table row is the
thing to watch, which is why templates have rows_per_table).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from documents.registry import TemplateRegistry  # noqa: E402
from documents.render import render_document  # noqa: E402
from tests.documents import factories  # noqa: E402

SIZES = (1, 20, 200)
_registry: TemplateRegistry | None = None


def _init() -> None:
    """Once per process: load the registry and render one invoice, so fonts, templates and
    xhtml2pdf's caches are warm before the clock starts (in every pool worker, not just one)."""
    global _registry
    _registry = TemplateRegistry.load(ROOT / "templates", strict=True)
    _render((1, -1))


def _render(args: tuple[int, int]) -> tuple[int, float]:
    lines, index = args
    assert _registry is not None
    invoice = factories.invoice(factories.many_lines(lines), number=f"INV-{lines}-{index}",
                                invoice_id=f"inv-{lines}-{index}")
    started = time.perf_counter()
    data = render_document(invoice, _registry.resolve(invoice), factories.agency())
    return len(data), time.perf_counter() - started


def _jobs(count: int) -> dict[int, list[tuple[int, int]]]:
    return {lines: [(lines, i) for i in range(count)] for lines in SIZES}


def _chunksize(jobs: int, workers: int) -> int:
    """A few chunks per worker: little per-task IPC for the 1-line case, still balanced at the end."""
    return max(1, -(-jobs // (workers * 4)))


def _figures(invoices: int, single: float, pooled: float) -> dict[str, float]:
    return {"invoices": invoices, "single_per_s": round(invoices / single, 2),
            "pool_per_s": round(invoices / pooled, 2), "ratio": round(single / pooled, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=int(os.environ.get("BENCH_PDF_COUNT", "1000")),
                        help="invoices of each size (1, 20 and 200 lines)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pdf.json")
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    jobs = _jobs(args.count)

    _init()
    results: dict[str, dict[str, float]] = {}
    single_total = pool_total = 0.0
    docs_total = 0
    max_200 = 0.0
    # One pool for every size, each worker warmed by its initializer before anything is timed.
    with ProcessPoolExecutor(max_workers=args.workers, initializer=_init) as pool:
        list(pool.map(_render, [(1, -1)] * args.workers))     # waits until every worker is up
        for lines, work in jobs.items():
            started = time.perf_counter()
            timings = [_render(job)[1] for job in work]
            single = time.perf_counter() - started
            if lines == 200:
                max_200 = max(timings)
            started = time.perf_counter()
            list(pool.map(_render, work, chunksize=_chunksize(len(work), args.workers)))
            pooled = time.perf_counter() - started
            results[str(lines)] = _figures(len(work), single, pooled)
            single_total += single
            pool_total += pooled
            docs_total += len(work)
            r = results[str(lines)]
            print(f"{lines:>4} lines: {r['invoices']:>4} invoices  single {r['single_per_s']:>7.2f}/s  "
                  f"pool({args.workers}) {r['pool_per_s']:>7.2f}/s  x{r['ratio']:.2f}", flush=True)
    speedup = round(single_total / pool_total, 2)
    print(f"overall speedup x{speedup} on {args.workers} workers; slowest 200-line invoice {max_200:.2f} s")
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "speedup": speedup, "workers": args.workers, "cpu_count": os.cpu_count(), "documents": docs_total,
        "max_seconds_200_lines": round(max_200, 3), "by_lines": results,
    }, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
