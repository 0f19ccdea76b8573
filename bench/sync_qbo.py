"""QuickBooks Online sync throughput per realm against the loopback QBO with QBO's real limits.

    .venv/bin/python bench/sync_qbo.py [--scale 20] [--minutes 3] [--tenants 20]

Limits: 500 requests per minute and 10 in flight per realm; the batch endpoint takes up to
10 documents a request (we send 10) and 40 batch requests a minute per realm. Time runs `scale` times faster on both sides (server
windows and Retry-After, the connector's window); rates are per simulated minute.

Ceiling (docs/min per realm) in steady state, customers and items cached: the lower of
500 requests/min / requests-per-document (a document costing 1/10 of a batch request plus
one upload for its PDF: 500 / 1.1 = 454.5) and 40 batches/min x 10 documents = 400 docs/min. Measured: uploads answered (each completes a document)
during simulated minutes 1..1+M. `fraction_of_ceiling` is the single-realm rate over the
ceiling; then 20 realms run at once and their rates are compared with the single one.
The 20-realm run uses a time scale 20 times slower (the same simulated load per real
second as one realm: one Python process cannot push 20 x 454 documents through JSON in a
3-second "minute"), so it measures whether realms slow each other, not this laptop's CPU.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.base import SyncStatus  # noqa: E402
from connectors.mapping import QboMapping  # noqa: E402
from connectors.qbo_http import QboLimits  # noqa: E402
from connectors.quickbooks import QuickBooksConnector  # noqa: E402
from tests.connectors import xero_workload as wl  # noqa: E402
from tests.connectors.qbo_server import Limits, QboTestServer  # noqa: E402
from tests.connectors.xero_tokens import RefreshTokenProvider  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CEILING = min(500 / (1 / 10 + 1), 40 * 10)


def _serve(pipe, scale: float) -> None:
    # validate_bodies=False: the SDK-model check of every body (tests/connectors/conftest.py runs it
    # over the whole connector suite) is CPU in the server process, not a vendor limit
    with QboTestServer(limits=Limits(minute=500, concurrent=10, batch_minute=40), time_scale=scale,
                       validate_bodies=False) as server:
        pipe.send(server.base_url)
        while True:
            command, arg = pipe.recv()
            if command == "tokens":
                pipe.send([server.issue_refresh_token() for _ in range(arg)])
            elif command == "log":
                pipe.send([(r["t"], r["realm"], r["status"], r["path"]) for r in server.requests])
            else:
                pipe.send(None)
                return


async def _realm(base_url, realm, token, scale, docs, stop_at) -> int:
    limits = QboLimits(minute_seconds=60.0 / scale, rate_limit_wait=60.0 / scale)
    conn = QuickBooksConnector(base_url, realm, f"tenant-{realm}", RefreshTokenProvider(
        f"{base_url}/oauth2/v1/tokens/bearer", token), limits,
        mapping=QboMapping(income_account="79", taxable_tax_code="TAX", exempt_tax_code="NON"))
    synced = 0
    gate = asyncio.Semaphore(3)              # a few batches in flight: the connector's limiter paces them

    async def one(chunk):
        nonlocal synced
        async with gate:
            if time.monotonic() >= stop_at:
                return
            outcomes = await conn.sync_many(chunk)
            assert all(o.status is SyncStatus.SYNCED for o in outcomes), [o.error for o in outcomes][:3]
            synced += len(chunk)
    try:
        await asyncio.gather(*(one(docs[i:i + 10]) for i in range(0, len(docs), 10)))
    finally:
        await conn.aclose()
    return synced


async def _scenario(pipe, base_url, realms, scale, minutes) -> dict:
    pipe.send(("tokens", len(realms)))
    tokens = pipe.recv()
    minute = 60.0 / scale
    start = time.monotonic()
    per_realm = int(CEILING * (minutes + 2))
    await asyncio.gather(*(_realm(base_url, r, t, scale,
                                  [wl.outgoing(i) for i in wl.invoices(per_realm, prefix=f"{r}-")],
                                  start + (1 + minutes) * minute) for r, t in zip(realms, tokens)))
    pipe.send(("log", None))
    log = pipe.recv()
    low, high = start + minute, start + (1 + minutes) * minute
    rates = [sum(1 for t, rr, s, p in log if rr == r and s == 200 and p == "upload" and low <= t < high) / minutes
             for r in realms]
    late_429 = sum(1 for t, rr, s, p in log if rr in realms and s == 429 and t >= low)
    return {"realms": len(realms), "docs_per_min_per_realm": [round(x, 1) for x in rates],
            "median_docs_per_min": round(statistics.median(rates), 1), "min_docs_per_min": round(min(rates), 1),
            "fraction_of_ceiling": round(statistics.median(rates) / CEILING, 3),
            "http_429_after_first_minute": late_429}


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--minutes", type=int, default=3)
    ap.add_argument("--tenants", type=int, default=20)
    args = ap.parse_args()
    def run(realms, scale):
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(target=_serve, args=(child, scale), daemon=True)
        server.start()
        try:
            return asyncio.run(_scenario(parent, parent.recv(), realms, scale, args.minutes))
        finally:
            parent.send(("stop", None))
            server.join(10)

    single = run(["solo"], args.scale)
    many = run([f"r{i:02d}" for i in range(args.tenants)], max(1.0, args.scale / args.tenants))
    result = {"fraction_of_ceiling": single["fraction_of_ceiling"],
              "ceiling": "per realm: min(500 requests/min / (1/10 batch request + 1 upload) per document = 454.5, "
                         "40 batch requests/min x 10 documents = 400) = 400 docs/min",
              "time_scale": args.scale, "simulated_minutes": args.minutes,
              "http_429_after_first_minute": single["http_429_after_first_minute"] + many["http_429_after_first_minute"],
              "multi_realm_over_single_rate": round(many["median_docs_per_min"] / single["median_docs_per_min"], 3),
              "multi_realm_min_over_single_rate": round(many["min_docs_per_min"] / single["median_docs_per_min"], 3),
              "single_realm": single, "many_realms": many}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sync_qbo.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"QBO single realm: {single['median_docs_per_min']} docs/min = {single['fraction_of_ceiling']} of the "
          f"{CEILING:.1f} ceiling; {args.tenants} realms at once: median {many['median_docs_per_min']}, "
          f"min {many['min_docs_per_min']} ({result['multi_realm_over_single_rate']} of single); "
          f"429s after minute 1: {result['http_429_after_first_minute']}")
    return result


if __name__ == "__main__":
    main()
