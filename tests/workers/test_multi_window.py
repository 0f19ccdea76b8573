"""Several billing windows with the clock moving forward on running workers (issue 11, part 5).

The simulator's timeline (simulator/timeline.py) publishes, step by step, future-dated fees
and products, approvals before their week ends, late approvals, re-approvals before and
after invoicing, a void and a credit memo, while the test moves the workers' clock
(BACKOFFICE_CLOCK_FILE) and the scheduler closes weekly, semi-monthly and monthly windows
by itself. At the end, billing.invoices is checked against the timeline's oracle: every
amount on the window it predicts, every slot's live total its latest value, no line on two
live documents, nothing dated beyond the clock billed, numbers gapless per tenant.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from infra.admin import create_topics
from infra.readback import read_to_end
from schemas.codec import decode
from schemas.topics import BILLING_COMMANDS, BILLING_INVOICES, BILLING_OUTCOMES
from simulator.generate import SimulatedStream
from simulator.publish import publish
from simulator.timeline import CATCH_UP_DAYS, Action, Step, Timeline, build_timeline
from infra.offsets import group_lag
from tests.workers.harness import WorkerProcess, produce, records_by
from tests.workers.test_pipeline import command
from workers.clock import write_clock_file
from workers.names import DOCUMENT_COMMANDS, LEDGER_COMMANDS, WINDOW_LINES, ingest_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WAIT = 150


def _env(tmp_path, clock_file) -> dict:
    return {"BACKOFFICE_CLOCK_FILE": str(clock_file), "BACKOFFICE_SCHEDULER_INTERVAL": "1",
            "BACKOFFICE_CATCH_UP_DAYS": str(CATCH_UP_DAYS), "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"),
            "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"), "BACKOFFICE_SMTP_PORT": "1",
            "BACKOFFICE_SMTP_ATTEMPTS": "1"}


def _logs(workers) -> str:
    return "\n".join(f"--- worker {w.worker_id}:\n{w.log()[-2500:]}" for w in workers)


def _crashes(workers) -> int:
    return sum(w.log().count("Crashed") for w in workers)


class Run:
    """Drives one app through a timeline: clock, windows, events, operator actions."""

    def __init__(self, bootstrap: str, app_id: str, timeline: Timeline, clock_file, workers) -> None:
        self.bootstrap, self.app_id, self.timeline, self.clock_file = bootstrap, app_id, timeline, clock_file
        self.workers = workers
        self.window_invoices: dict[str, str] = {}        # invoice id -> window id
        self.problems: list[str] = []                     # operator commands refused along the way

    def supervise(self) -> None:
        """What a supervisor does: a worker that stopped by itself (exit 70 on a failed message) is
        restarted, and the test records it; one this test killed on purpose stays dead."""
        for w in self.workers:
            if w.proc is not None and not w.alive():
                code = w.proc.returncode
                self.problems.append(f"worker {w.worker_id} exited {code} by itself; log:\n{w.log()[-1500:]}")
                w.proc = None
                w.start()

    def lags(self) -> dict[str, int]:
        """Per topic, what the app has not consumed yet: where a stuck wait is stuck."""
        topics = ingest_topics(self.app_id) + self.internal() + [BILLING_COMMANDS]
        return {t: group_lag(self.bootstrap, self.app_id, [t]) for t in topics}

    def wait(self, predicate, message: str):
        deadline, last = time.monotonic() + WAIT, None
        while time.monotonic() < deadline:
            self.supervise()
            try:
                last = predicate()
                if last:
                    return last
            except Exception as exc:  # a topic not created yet, etc.
                last = exc
            time.sleep(0.5)
        raise AssertionError(f"timed out after {WAIT}s waiting for {message}; last: {last!r}; lag per topic {self.lags()}\n"
                             + "\n".join(self.problems) + f"\n{_logs(self.workers)}")

    def internal(self) -> list[str]:
        return [f"{self.app_id}-{name}" for name in (LEDGER_COMMANDS, WINDOW_LINES, DOCUMENT_COMMANDS)]

    def drain(self) -> None:
        """Everything published so far consumed, Settles and Releases included (a re-approval
        racing its line's Settle is not what this test is about)."""
        topics = ingest_topics(self.app_id) + self.internal()
        self.wait(lambda: group_lag(self.bootstrap, self.app_id, topics) == 0, f"{self.app_id} to drain")

    def close_windows(self, step: Step) -> None:
        ids = {f"close:{t}:{w.window_id}": w.window_id for t in self.timeline.tenants for w in step.windows}
        if not ids:
            return
        got = self.wait(lambda: (o := records_by(self.bootstrap, BILLING_OUTCOMES, "command_id", set(ids)))
                        and len(o) == len(ids) and o, f"windows {sorted(set(ids.values()))} at {step.clock}")
        refused = {cid: (rs[-1]["message"], rs[-1]["findings"]) for cid, rs in got.items() if not rs[-1]["ok"]}
        assert not refused, refused
        for cid, rs in got.items():
            for invoice_id in rs[-1]["invoice_ids"]:
                self.window_invoices[invoice_id] = ids[cid]
        self.drain()

    def act(self, step: Step) -> None:
        """Operator commands; a refusal is recorded (and the run goes on) so the end report shows
        everything the refusal led to, not only the first symptom."""
        if not step.actions:
            return
        docs = documents(self.bootstrap, self.timeline.tenants)
        messages = []
        for action in step.actions:
            message = self._command(action, docs)
            if isinstance(message, str):
                self.problems.append(message)
            else:
                messages.append((action.command_id, message))
        produce(self.bootstrap, [m for _, m in messages])
        ids = {cid for cid, _ in messages}
        got = self.wait(lambda: (o := records_by(self.bootstrap, BILLING_OUTCOMES, "command_id", ids))
                        and len(o) == len(ids) and o, f"operator actions at {step.clock}")
        self.problems += [f"{cid} refused at {step.clock}: {rs[-1]['message']}"
                          for cid, rs in sorted(got.items()) if not rs[-1]["ok"]]
        self.drain()

    @staticmethod
    def _command(action: Action, docs: dict[str, dict]):
        if action.kind == "VOID":
            carrying = [i for i, d in docs.items() if d["live"] and d["tenant_id"] == action.tenant_id
                        and action.pay_line_id in {x["pay_line_id"] for x in d["lines"]}]
            if len(carrying) != 1:
                return f"{action.command_id} not sent: {action.pay_line_id} is on live documents {carrying}"
            return command(action.tenant_id, action.command_id, "VOID", invoice_id=carrying[0])
        return command(action.tenant_id, action.command_id, "CREATE_CREDIT_MEMO", placement_id=action.placement_id,
                       pay_line_id=action.pay_line_id, amount=action.amount, as_of=action.as_of, reason="goodwill")

    def run(self, on_clock=None) -> None:
        for index, step in enumerate(self.timeline.steps):
            write_clock_file(self.clock_file, step.clock)
            if on_clock:
                on_clock(index, step)
            if step.windows_first:
                self.close_windows(step)
            if step.events:
                publish(SimulatedStream(events=step.events), self.bootstrap)
                self.drain()
            self.act(step)
            if not step.windows_first:
                self.close_windows(step)

    def finish(self) -> dict[str, dict]:
        """Wait for every generated document (and the voids) on billing.invoices; return them."""
        voided = len(self.timeline.voids)
        return self.wait(lambda: (d := documents(self.bootstrap, self.timeline.tenants))
                         and set(self.window_invoices) <= set(d)
                         and sum(1 for x in d.values() if not x["live"]) >= voided and d,
                         f"{len(self.window_invoices)} documents on {BILLING_INVOICES}")


def documents(bootstrap: str, tenants) -> dict[str, dict]:
    """invoice id -> its GENERATED record (lines as generated), `live` False once VOIDED."""
    docs: dict[str, dict] = {}
    voided: set[str] = set()
    for m in read_to_end(bootstrap, BILLING_INVOICES):
        rec = decode(m.value()).record
        if rec["tenant_id"] not in tenants:
            continue
        if rec["event_type"] == "GENERATED":
            docs.setdefault(rec["invoice_id"], rec)
        elif rec["event_type"] == "VOIDED":
            voided.add(rec["invoice_id"])
    for invoice_id, rec in docs.items():
        rec["live"] = invoice_id not in voided
    return docs


def slot_of(pay_line_id: str) -> str:
    """Adjustments for a re-approval after invoicing are further lines of the same slot."""
    return pay_line_id.split("|adj", 1)[0]


def mismatches(docs: dict[str, dict], window_of: dict[str, str], timeline: Timeline) -> list[str]:
    """Everything billing.invoices says that the timeline's oracle does not, as readable lines."""
    problems = []
    unknown = sorted(set(docs) - set(window_of))
    if unknown:
        problems.append(f"documents from no scheduled window: {unknown[:5]}")
    billed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    live: dict[str, Decimal] = defaultdict(Decimal)
    on_live = Counter()
    where: dict[str, list[str]] = defaultdict(list)
    for invoice_id, doc in docs.items():
        window = window_of.get(invoice_id, "?")
        for line in doc["lines"]:
            slot = slot_of(line["pay_line_id"])
            billed[(slot, window)] += line["amount"]
            where[slot].append(f"{doc['number']}@{window}{'' if doc['live'] else '(void)'}")
            effective = timeline.dates.get(slot, (dt.date.min,))[0]
            if effective > doc["issue_date"]:
                problems.append(f"{line['pay_line_id']} dated {effective} on {doc['number']} "
                                f"issued {doc['issue_date']}")
            if doc["live"]:
                live[slot] += line["amount"]
                on_live[line["pay_line_id"]] += 1
    twice = sorted(k for k, n in on_live.items() if n > 1)
    if twice:
        problems.append(f"{len(twice)} pay lines on more than one live document (number@window), e.g. "
                        + "; ".join(f"{k} on {sorted(where[slot_of(k)])}" for k in twice[:4]))
    def by_window(amounts, slot):
        return {w: str(a) for (s, w), a in sorted(amounts.items()) if s == slot}

    for slot in sorted({s for s, _ in billed} | {s for s, _ in timeline.billed}):
        got, want = by_window(billed, slot), by_window(timeline.billed, slot)
        if got != want:
            problems.append(f"{slot}: billed {got}, expected {want}")
    for slot in sorted(set(live) | set(timeline.live)):
        if live.get(slot, Decimal(0)) != timeline.live.get(slot, Decimal(0)):
            problems.append(f"{slot}: live total {live.get(slot)}, expected {timeline.live.get(slot)}")
    early = sorted(timeline.not_due & set(where))
    if early:
        problems.append(f"billed before due: {early}")
    for v in timeline.voids:
        held = [d for d in docs.values() if not d["live"] and d["tenant_id"] == v.action.tenant_id
                and window_of.get(d["invoice_id"]) == v.window_id]
        slots = {slot_of(x["pay_line_id"]) for d in held for x in d["lines"]}
        if slots != set(v.slots):
            problems.append(f"void {v.action.command_id}: voided documents held {sorted(slots)}, "
                            f"expected {sorted(v.slots)}")
    for tenant in timeline.tenants:
        numbers = sorted(int(d["number"]) for d in docs.values() if d["tenant_id"] == tenant)
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{tenant}: numbers not gapless: {numbers}")
    for doc in docs.values():
        if doc["subtotal"] != sum((x["amount"] for x in doc["lines"]), Decimal(0)) or \
                doc["total"] != doc["subtotal"] + doc["tax"]:
            problems.append(f"document {doc['number']} of {doc['tenant_id']}: totals do not add up")
    return problems


def _workers(bootstrap, app_id, tmp_path, clock_file, count: int) -> list[WorkerProcess]:
    return [WorkerProcess(bootstrap, app_id, tmp_path / "w", worker_id=str(i), extra_env=_env(tmp_path, clock_file))
            for i in range(count)]


def _scenario(bootstrap, tmp_path, unique_name, workers_count: int, kill_at: dt.datetime | None = None):
    create_topics(bootstrap)
    timeline = build_timeline(tenants=2, seed=3, tenant_prefix=f"{unique_name}-")
    clock_file = tmp_path / "clock"
    write_clock_file(clock_file, timeline.steps[0].clock)
    workers = _workers(bootstrap, unique_name, tmp_path, clock_file, workers_count)
    workers[0].start()
    run = Run(bootstrap, unique_name, timeline, clock_file, workers)

    def on_clock(index, step):
        """The other workers join after the first step (two workers started together on a fresh
        app left some input partitions unconsumed for good in 3 of ~10 runs: reported, not this
        test's subject). Kill the last worker once the first document of the window due at
        `kill_at` is out: that window's other documents, Settles and Releases, and the next
        steps, are the survivor's."""
        if index == 1:
            for w in workers[1:]:
                w.start()
        if kill_at is None or step.clock != kill_at:
            return
        issue = step.windows[0].as_of
        run.wait(lambda: any(d["issue_date"] == issue for d in documents(bootstrap, timeline.tenants).values()),
                 f"a first document issued {issue}")
        workers[-1].kill9()
    try:
        run.run(on_clock)
        docs = run.finish()
        problems = run.problems + mismatches(docs, run.window_invoices, timeline)
        crashes = _crashes(workers)
    finally:
        for w in workers:
            w.stop()
    assert not problems, (f"{len(problems)} disagreement(s) with the oracle ({crashes} 'Crashed' in the worker "
                          f"logs):\n" + "\n".join(problems[:60]))
    assert crashes == 0, f"{crashes} agent crash(es) in the worker logs:\n{_logs(workers)}"


def test_a_clock_moving_across_windows_bills_every_line_once(kafka_bootstrap, tmp_path, unique_name):
    _scenario(kafka_bootstrap, tmp_path, unique_name, 1)


@pytest.mark.reliability     # a rebalance on Tansu sometimes leaves partitions unfetched (see the closing note of issue 11)
def test_two_workers_one_killed_mid_run_bill_every_line_once(kafka_bootstrap, tmp_path, unique_name):
    _scenario(kafka_bootstrap, tmp_path, unique_name, 2, kill_at=dt.datetime(2026, 9, 25, 12, tzinfo=dt.timezone.utc))
