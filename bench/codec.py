"""Codec throughput per event type: our single-object codec vs plain fastavro
schemaless_writer/reader on the same records, in the same run.

Every schema of the contract is measured: the ATS events come from the simulator;
the others (commands, invoices, sync, outcomes, dead letters) are drawn from the
schema-derived hypothesis strategies of tests/avro_strategies.py, derandomized, so
every run measures the same records.

Headline: `ratio` = the worst (min) of encode and decode ratios across event types.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import sys
import time
from pathlib import Path

import fastavro

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.codec import default_codec  # noqa: E402
from simulator.generate import generate  # noqa: E402
from tests.avro_strategies import strategy_for  # noqa: E402

RESULTS = Path(__file__).with_name("results")


def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_schema(name: str, records: list[dict]) -> dict:
    codec = default_codec()
    parsed = codec.writer_schema(name).parsed
    n = len(records)

    def ours_encode():
        return [codec.encode(name, r) for r in records]

    def plain_encode():
        out = []
        for r in records:
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed, r)
            out.append(buf.getvalue())
        return out

    ours_payloads, plain_payloads = ours_encode(), plain_encode()

    def ours_decode():
        for p in ours_payloads:
            codec.decode(p)

    def plain_decode():
        for p in plain_payloads:
            fastavro.schemaless_reader(io.BytesIO(p), parsed, None)

    t = {k: _best_of(f) for k, f in [("ours_encode", ours_encode), ("plain_encode", plain_encode),
                                      ("ours_decode", ours_decode), ("plain_decode", plain_decode)]}
    return {"records": n,
            "encode_per_s": n / t["ours_encode"], "plain_encode_per_s": n / t["plain_encode"],
            "decode_per_s": n / t["ours_decode"], "plain_decode_per_s": n / t["plain_decode"],
            "encode_ratio": t["plain_encode"] / t["ours_encode"], "decode_ratio": t["plain_decode"] / t["ours_decode"]}


def sample_records(name: str, n: int) -> list[dict]:
    """Up to n records of schema `name`, drawn by hypothesis with a fixed (derandomized) seed."""
    from hypothesis import HealthCheck, Phase, given, settings

    strategy = strategy_for(default_codec().writer_schema(name).raw)
    out: list[dict] = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(record):
        out.append(record)

    collect()
    return out


def records_by_schema(samples: int = 2000) -> dict[str, list[dict]]:
    """Records for every schema the codec knows: simulated ATS events, sampled for the rest."""
    stream = generate(tenants=6, placements=300, weeks=6, seed=3, start=dt.date(2026, 9, 7))
    by_schema: dict[str, list[dict]] = {}
    for e in stream.events:
        by_schema.setdefault(e.schema, []).append(e.record)
    for name in default_codec().schema_names():
        if name not in by_schema:
            by_schema[name] = sample_records(name, samples)
    return by_schema


def main() -> None:
    by_schema = records_by_schema()
    missing = set(default_codec().schema_names()) - set(by_schema)
    assert not missing, f"no records for {sorted(missing)}"
    results = {name: bench_schema(name, recs[:20000]) for name, recs in sorted(by_schema.items())}
    print(f"{'event':20} {'n':>6} {'enc/s':>10} {'plain':>10} {'ratio':>6} {'dec/s':>10} {'plain':>10} {'ratio':>6}")
    for name, r in results.items():
        print(f"{name:20} {r['records']:>6} {r['encode_per_s']:>10.0f} {r['plain_encode_per_s']:>10.0f} "
              f"{r['encode_ratio']:>6.2f} {r['decode_per_s']:>10.0f} {r['plain_decode_per_s']:>10.0f} "
              f"{r['decode_ratio']:>6.2f}")
    ratio = min(min(r["encode_ratio"], r["decode_ratio"]) for r in results.values())
    print(f"ratio (worst of encode/decode across event types) = {ratio:.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "codec.json").write_text(json.dumps({"ratio": round(ratio, 3), "per_event": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
