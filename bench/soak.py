"""Soak: 50 tenants' ATS events through two workers and the Xero connector for N minutes,
with a random worker or connector killed (SIGKILL, then restarted) every few minutes.

The simulator's events are published in slices over the first 70% of the run, and every
third slice is followed by a GENERATE per tenant (as of the slice's dates); at the end a
last GENERATE per tenant bills everything due. Then the run is checked against an oracle
built from the simulator's input, not from the workers' counters:

- per pay-line slot (a timesheet pay code or a fee; re-approvals after invoicing add
  `slot|adjN` lines), the amounts on every generated invoice add up to the simulator's
  latest amount: a slot short of it is *lost*, a pay line id on two invoices or a slot
  over its amount is *duplicated*;
- every document the workers RECORDED is booked once in the vendor's ledger (the Xero
  test server): missing ones are lost, a number booked twice is duplicated.

Also sampled every few seconds: the workers' consumer lag over the ATS topics (max lag)
and each process's RSS from /proc (peak per process, and the trend after the first
5 minutes: the least-squares slope over each process incarnation's samples, warm-up of an
incarnation excluded). Headline: `seconds` (the run's wall time). The machine is shared:
the load average is recorded at the start and the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.oauth import seed  # noqa: E402
from connectors.tokens import FernetFileStore  # noqa: E402
from infra.admin import create_topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.offsets import group_lag  # noqa: E402
from infra.readback import read_to_end  # noqa: E402
from schemas.codec import decode  # noqa: E402
from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_INVOICES, BILLING_OUTCOMES  # noqa: E402,E501
from simulator.generate import SimulatedStream, generate  # noqa: E402
from simulator.publish import publish  # noqa: E402
from tests.connectors.runner_harness import MAPPINGS  # noqa: E402
from tests.connectors.xero_server import Limits, XeroTestServer  # noqa: E402
from tests.workers.harness import WorkerProcess, produce  # noqa: E402
from tests.workers.oracle import due_by  # noqa: E402
from tests.workers.test_pipeline import command  # noqa: E402

RESULTS = ROOT / "bench" / "results"
ATS = [ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES]
START, WEEKS = dt.date(2026, 6, 1), 10
FINAL = START + dt.timedelta(days=7 * WEEKS + 7)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class Connector(WorkerProcess):
    """`backoffice connector xero` as a process: its own environment, WorkerProcess's alive, stop
    and kill9 (the same process-group handling)."""

    def __init__(self, env: dict, log_path: Path) -> None:
        self.env, self.log_path, self.proc = env, log_path, None

    def start(self) -> "Connector":
        self.proc = subprocess.Popen([sys.executable, "-m", "cli.main", "connector", "xero", "--backoff", "0.2"],
                                     cwd=ROOT, env=self.env, stdout=open(self.log_path, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self


def slope_per_min(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mx, my = sum(t for t, _ in samples) / n, sum(v for _, v in samples) / n
    sxx = sum((t - mx) ** 2 for t, _ in samples)
    return None if sxx == 0 else 60 * sum((t - mx) * (v - my) for t, v in samples) / sxx


def trend_after(incarnations: list[dict], after_s: float, warmup_s: float = 60) -> dict:
    """Per incarnation (one pid), the slope of its samples after `after_s` into the run and
    `warmup_s` into its own life; the longest such stretch is the process's trend."""
    best = None
    for inc in incarnations:
        pts = [(t, v) for t, v in inc["samples"] if t >= after_s and t >= inc["started"] + warmup_s]
        if len(pts) >= 3 and (best is None or pts[-1][0] - pts[0][0] > best[1]):
            best = (pts, pts[-1][0] - pts[0][0])
    if best is None:
        return {"mib_per_min": None, "span_s": 0}
    pts, span = best
    return {"mib_per_min": round(slope_per_min(pts), 3), "span_s": round(span),
            "first_mib": round(pts[0][1], 1), "last_mib": round(pts[-1][1], 1)}


def slices(stream: SimulatedStream, count: int) -> list[list]:
    """The events in `count` chronological slices (the simulator emits them in time order)."""
    n = len(stream.events)
    return [stream.events[i * n // count:(i + 1) * n // count] for i in range(count)]


def slice_as_of(events: list) -> dt.date:
    last = max(e.record["occurred_at"] for e in events if e.record)
    return min(last.date() - dt.timedelta(days=3), FINAL)


def check_lines(bootstrap: str, stream: SimulatedStream, tenants: set[str]) -> dict:
    """The oracle: generated invoices' lines against the simulator's expected lines."""
    records = (decode(m.value()).record for m in read_to_end(bootstrap, BILLING_INVOICES))
    return compare(records, due_by(stream.expected_pay_lines, FINAL), tenants)


def compare(invoice_events, expected: dict[str, Decimal], tenants: set[str]) -> dict:
    """InvoiceEvent records against pay_line_id -> amount owed: lost, duplicated, gaps."""
    per_line: Counter = Counter()
    per_slot: dict[str, Decimal] = defaultdict(Decimal)
    invoices, numbers = {}, defaultdict(set)
    for rec in invoice_events:
        if rec["tenant_id"] in tenants and rec["event_type"] == "GENERATED":
            invoices[rec["invoice_id"]] = rec          # a replayed GENERATED repeats the same invoice
    for rec in invoices.values():
        numbers[rec["tenant_id"]].add(int(rec["number"]))
        for line in rec["lines"]:
            per_line[line["pay_line_id"]] += 1
            per_slot[line["pay_line_id"].split("|adj", 1)[0]] += Decimal(line["amount"])
    lost = sorted(s for s, amount in expected.items() if per_slot.get(s, Decimal(0)) < amount)
    duplicated = sorted({k for k, n in per_line.items() if n > 1}
                        | {s for s, amount in expected.items() if per_slot.get(s, Decimal(0)) > amount})
    unexpected = sorted(s for s, amount in per_slot.items() if s not in expected and amount != 0)
    gaps = {t: len(ns) for t, ns in numbers.items() if sorted(ns) != list(range(1, len(ns) + 1))}
    return {"expected_lines": len(expected), "lines_invoiced": sum(per_line.values()), "invoices": len(invoices),
            "lost": len(lost), "duplicated": len(duplicated) + len(unexpected), "unexpected": len(unexpected),
            "tenants_with_number_gaps": len(gaps), "lost_sample": lost[:5], "duplicated_sample": duplicated[:5],
            "unexpected_sample": unexpected[:5]}


def generated_ids(bootstrap: str, tenants: set[str]) -> set[str]:
    return {rec["invoice_id"] for m in read_to_end(bootstrap, BILLING_INVOICES)
            if (rec := decode(m.value()).record)["tenant_id"] in tenants and rec["event_type"] == "GENERATED"}


def recorded_numbers(bootstrap: str, tenants: set[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for m in read_to_end(bootstrap, BILLING_INVOICES):
        rec = decode(m.value()).record
        if rec["tenant_id"] in tenants and rec["event_type"] in ("RECORDED", "SENT"):
            out[rec["tenant_id"]].add(rec["number"])
    return out


def check_vendor(server: XeroTestServer, recorded: dict[str, set[str]], orgs: dict[str, str]) -> dict:
    lost = dup = booked = 0
    for tenant, org in orgs.items():
        numbers = Counter(d["InvoiceNumber"] for d in server.book(org).documents["Invoices"].values()) \
            if org in server.tenants else Counter()
        booked += sum(numbers.values())
        dup += sum(n - 1 for n in numbers.values() if n > 1)
        lost += len(recorded.get(tenant, set()) - set(numbers))
    return {"recorded": sum(len(v) for v in recorded.values()), "booked": booked, "lost": lost, "duplicated": dup}


def outcomes_for(bootstrap: str, ids: set[str]) -> dict[str, dict]:
    found = {}
    for m in read_to_end(bootstrap, BILLING_OUTCOMES):
        rec = decode(m.value()).record
        if rec["command_id"] in ids:
            found[rec["command_id"]] = rec
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--placements", type=int, default=8, help="per tenant")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-every", type=float, nargs=2, default=(120, 240), metavar=("MIN_S", "MAX_S"),
                    help="a random process is killed every MIN_S..MAX_S seconds")
    ap.add_argument("--generate-every", type=int, default=3, help="a GENERATE per tenant after every Nth slice")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--settle-timeout", type=float, default=900,
                    help="seconds to wait for the last GENERATEs' outcomes and the connector (each)")
    ap.add_argument("--out", default=str(RESULTS / "soak.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t_start, load_start = time.monotonic(), os.getloadavg()
    run_s = args.minutes * 60
    after_s = min(300.0, run_s / 3)               # "after the first 5 minutes" (a third of a short run)
    stream = generate(tenants=args.tenants, placements=args.placements, weeks=WEEKS, seed=args.seed, start=START)
    tenants = sorted({e.record["tenant_id"] for e in stream.events if e.record})
    parts = slices(stream, max(4, int(args.minutes * 0.7)))
    broker = EmbeddedBroker().start()
    bootstrap = broker.bootstrap
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    procs: dict[str, object] = {}
    incarnations: dict[str, list[dict]] = defaultdict(list)
    kills, unexpected_exits, max_lag, lag_samples = [], [], 0, []
    try:
        create_topics(bootstrap)
        server = XeroTestServer(limits=Limits(minute=100_000, day=1_000_000, concurrent=10))
        with server:
            key = Fernet.generate_key().decode()
            store = FernetFileStore(work / "tokens", key)
            orgs = {t: f"org-{i}" for i, t in enumerate(tenants)}
            config = {"tenants": {}}
            for tenant, org in orgs.items():
                seed(store, f"xero-{tenant}", server.issue_grant(org))
                store.save_mapping(f"xero-{tenant}", MAPPINGS["xero"])
                config["tenants"][tenant] = {"system": "xero", "base_url": server.base_url,
                                             "token_url": server.token_url, "client_id": "soak",
                                             "client_secret_env": "XERO_SECRET", "xero_tenant_id": org}
            (work / "connectors.yaml").write_text(yaml.safe_dump(config))
            common = {"BACKOFFICE_DOCUMENT_STORE": str(work / "docs"), "BACKOFFICE_SENT_LOG": str(work / "sent"),
                      "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1",
                      "BACKOFFICE_SCHEDULER_INTERVAL": "3600",
                      "BACKOFFICE_CLOCK": f"{FINAL.isoformat()}T19:00:00Z"}
            app_id = "soak"
            for i in range(args.workers):
                procs[f"worker-{i}"] = WorkerProcess(bootstrap, app_id, work / "w", worker_id=str(i),
                                                     extra_env=common)
            procs["connector"] = Connector(
                {**os.environ, **common, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PYTHONPATH": str(ROOT),
                 "BACKOFFICE_CONNECTORS_CONFIG": str(work / "connectors.yaml"), "XERO_SECRET": "soak-secret",
                 "BACKOFFICE_TOKEN_DIR": str(work / "tokens"), "BACKOFFICE_TOKEN_KEY": key},
                work / "connector.log")

            def now() -> float:
                return time.monotonic() - t_start

            def start(name: str) -> None:
                procs[name].start()
                incarnations[name].append({"pid": procs[name].proc.pid, "started": now(), "samples": []})

            def sample() -> None:
                nonlocal max_lag
                for name, p in procs.items():
                    if not p.alive():
                        if p.proc is not None:
                            unexpected_exits.append({"process": name, "at_s": round(now()),
                                                     "code": p.proc.returncode})
                            p.proc = None
                        start(name)
                        continue
                    mib = rss_mib(p.proc.pid)
                    if mib is not None and incarnations[name]:
                        incarnations[name][-1]["samples"].append((now(), mib))
                try:
                    lag = group_lag(bootstrap, app_id, ATS)
                    max_lag = max(max_lag, lag)
                    lag_samples.append((round(now()), lag))
                except Exception:  # topics or group not ready yet
                    pass

            for name in procs:
                start(name)
            commands: list[str] = []
            publish_every = run_s * 0.7 / len(parts)
            next_publish, next_kill, round_no = 0.0, rng.uniform(*args.kill_every), 0
            while now() < run_s:
                if round_no < len(parts) and now() >= next_publish:
                    chunk = parts[round_no]
                    publish(SimulatedStream(events=chunk), bootstrap)
                    if round_no % args.generate_every == args.generate_every - 1:
                        as_of = slice_as_of(chunk)
                        ids = [f"soak-r{round_no}-{t}" for t in tenants]
                        produce(bootstrap, [command(t, c, "GENERATE", as_of=as_of) for t, c in zip(tenants, ids)])
                        commands += ids
                    print(f"[{now():6.0f}s] slice {round_no + 1}/{len(parts)}: {len(chunk)} events", flush=True)
                    round_no += 1
                    next_publish = round_no * publish_every
                if now() >= next_kill:
                    victim = rng.choice(sorted(procs))
                    procs[victim].kill9()
                    kills.append({"process": victim, "at_s": round(now())})
                    print(f"[{now():6.0f}s] SIGKILL {victim}", flush=True)
                    time.sleep(rng.uniform(2, 6))
                    start(victim)
                    next_kill = now() + rng.uniform(*args.kill_every)
                sample()
                time.sleep(5)
            for chunk in parts[round_no:]:
                publish(SimulatedStream(events=chunk), bootstrap)
            final = {t: f"soak-final-{t}" for t in tenants}
            produce(bootstrap, [command(t, c, "GENERATE", as_of=FINAL) for t, c in final.items()])
            print(f"[{now():6.0f}s] final GENERATE for {len(final)} tenants; waiting", flush=True)
            deadline = time.monotonic() + args.settle_timeout
            while time.monotonic() < deadline:
                sample()
                got = outcomes_for(bootstrap, set(final.values()))
                if len(got) == len(final) and group_lag(bootstrap, app_id, ATS) == 0:
                    break
                time.sleep(5)
            # the outcomes name every document; their InvoiceGenerated events follow from the owners
            wanted = {i for o in outcomes_for(bootstrap, set(commands) | set(final.values())).values()
                      for i in o["invoice_ids"]}
            while time.monotonic() < deadline and not wanted <= generated_ids(bootstrap, set(tenants)):
                sample()
                time.sleep(5)
            settle_s = now()
            lines = check_lines(bootstrap, stream, set(tenants))
            lines["documents_named_by_outcomes"] = len(wanted)
            recorded = recorded_numbers(bootstrap, set(tenants))
            deadline = time.monotonic() + args.settle_timeout
            while time.monotonic() < deadline:
                sample()
                vendor = check_vendor(server, recorded, orgs)
                if vendor["lost"] == 0:
                    break
                time.sleep(5)
                recorded = recorded_numbers(bootstrap, set(tenants))
            outcomes = outcomes_for(bootstrap, set(commands) | set(final.values()))
            for p in procs.values():
                p.stop(60)
    finally:
        for p in procs.values():
            if p.alive():
                p.kill9()
        broker.stop()
    seconds = time.monotonic() - t_start
    rss = {}
    for name, incs in incarnations.items():
        peak = max((v for inc in incs for _, v in inc["samples"]), default=None)
        rss[name] = {"peak_mib": round(peak, 1) if peak else None, "incarnations": len(incs),
                     "trend_after_warmup": trend_after(incs, after_s)}
    result = {
        "seconds": round(seconds, 1), "minutes_requested": args.minutes,
        "tenants": len(tenants), "workers": args.workers, "events_in": len(stream.events),
        "lines_invoiced": lines["lines_invoiced"], "expected_lines": lines["expected_lines"],
        "invoices": lines["invoices"], "lost": lines["lost"] + vendor["lost"],
        "duplicated": lines["duplicated"] + vendor["duplicated"],
        "lines": lines, "vendor": vendor,
        "commands": len(commands) + len(final), "commands_answered": len(outcomes),
        "commands_refused": sum(1 for o in outcomes.values() if not o["ok"]),
        "commands_unanswered": sorted((set(commands) | set(final.values())) - set(outcomes)),
        "max_lag": max_lag, "settled_after_s": round(settle_s),
        "kills": kills, "unexpected_exits": unexpected_exits,
        "rss_mib": rss, "rss_trend_after_s": after_s,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count(),
        "note": "shared machine (2 cores, several other agents' test runs at once): timings and lag are "
                "upper bounds; lost/duplicated are checked against the simulator's input",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("kills", "lines", "rss_mib")}))
    for name, r in rss.items():
        print(f"  {name}: peak {r['peak_mib']} MiB, trend {r['trend_after_warmup']}")
    if result["lost"] or result["duplicated"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
