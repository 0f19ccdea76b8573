"""AR/GL sync throughput against both loopback vendors with their real limits:
bench/sync_qbo.py (500 requests/min, 10 in flight per realm) and bench/sync_xero.py
(60 calls/min, 5 in flight per tenant), each single-tenant and with 20 tenants at once.

Headline `fraction_of_ceiling`: the lower of the two single-tenant fractions.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=20.0,
                    help="time scale for both benches (lower it on a loaded machine: the rates are per simulated minute)")
    scale = ["--scale", str(ap.parse_args().scale)]
    figures = {}
    for name, args in (("sync_qbo", ["--minutes", "2", *scale]), ("sync_xero", scale)):
        subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *args], check=True)
        figures[name] = json.loads((RESULTS / f"{name}.json").read_text())
    result = {"fraction_of_ceiling": min(f["fraction_of_ceiling"] for f in figures.values()),
              "quickbooks": {k: figures["sync_qbo"][k] for k in ("fraction_of_ceiling", "ceiling",
                                                                 "multi_realm_over_single_rate",
                                                                 "http_429_after_first_minute")},
              "xero": {k: figures["sync_xero"][k] for k in ("fraction_of_ceiling", "ceiling",
                                                            "multi_tenant_over_single_rate",
                                                            "http_429_after_first_minute")}}
    (RESULTS / "sync.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
