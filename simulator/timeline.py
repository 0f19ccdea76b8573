"""Time-shifted scenarios: the ATS and an operator acting while the clock moves forward.

A `Timeline` is a list of steps, each a clock instant with the ATS events and operator
actions that happen then. It holds the cases a single "publish everything, then
generate" run never meets: future-dated fees and products (Scheduled until due),
approvals published before their week ends, late approvals arriving after their window
closed, re-approvals with changed hours before and after invoicing, a void (its lines are
billed again) and a credit memo, on weekly, semi-monthly and monthly placements.

The oracle follows the clock. It has its own copy of the batch calendar (seed 003, the
default Invoice Setup: week ending Sunday, delay 2 days, 13:00 UTC; semi-monthly and
monthly at 00:00) and its own billing rule, written from the seeds and not from
`backoffice/`: a window (cycle, period end E, run at R) bills, for the placements on its
cycle, whatever is known before R, worked on or before E, effective on or before R's
date, and not yet on a live document. It says on which window every amount lands, which
document a void cancels, and what is dated beyond the last instant and must not be billed.

Amounts are compared per *slot*: a timesheet's pay code, a fee, a credit. An invoiced
line never changes, so a re-approval after invoicing bills the difference as a further
line of the same slot (the pipeline names it `<slot>|adj<n>`), and a voided document's
lines are billed again: the slot's amounts over live documents add up to its latest value.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.generate import CATALOG, SimEvent, Simulator
from simulator.records import account_record

UTC = dt.timezone.utc
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
WEEKLY, SEMI_MONTHLY, MONTHLY = "WEEKLY", "SEMI_MONTHLY", "MONTHLY"
CATCH_UP_DAYS = 10       # the scheduler's look-back for a tenant it sees first (BACKOFFICE_CATCH_UP_DAYS)


def _money(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


# -- the batch calendar (seed 003), independent of backoffice/schedules.py -------------------
@dataclass(frozen=True, order=True)
class Window:
    run_at: dt.datetime
    cycle: str
    period_end: dt.date

    @property
    def window_id(self) -> str:
        return f"{self.cycle}:{self.period_end.isoformat()}"

    @property
    def as_of(self) -> dt.date:
        return self.run_at.date()


def _month_end(year: int, month: int) -> dt.date:
    first_of_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def windows_running_in(start: dt.datetime, end: dt.datetime) -> list[Window]:
    """Every window of every cycle whose run time is in (start, end], in run order."""
    out = []
    day = start.date() - dt.timedelta(days=40)
    while day <= end.date():
        if day.weekday() == 6:                                    # week ending Sunday, run Tuesday 13:00
            run = dt.datetime.combine(day + dt.timedelta(days=2), dt.time(13), tzinfo=UTC)
            out.append(Window(run, WEEKLY, day))
        if day.day == 15 or day == _month_end(day.year, day.month):   # 1st-15th, 16th-end: run 2 days later
            out.append(Window(dt.datetime.combine(day + dt.timedelta(days=2), dt.time(0), tzinfo=UTC),
                              SEMI_MONTHLY, day))
        if day == _month_end(day.year, day.month):                # calendar month: run on the 3rd
            out.append(Window(dt.datetime.combine(day + dt.timedelta(days=3), dt.time(0), tzinfo=UTC),
                              MONTHLY, day))
        day += dt.timedelta(days=1)
    return sorted(w for w in out if start < w.run_at <= end)


# -- the scenario ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    """An operator command at a step. VOID: the live document carrying `pay_line_id`;
    CREATE_CREDIT_MEMO: a credit of `amount` against the invoiced line `pay_line_id`."""

    kind: str
    tenant_id: str
    command_id: str
    placement_id: str
    pay_line_id: str
    amount: Decimal | None = None
    as_of: dt.date | None = None


@dataclass
class Step:
    clock: dt.datetime
    events: list[SimEvent] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    #: the windows whose run time came since the previous step; closed before this step's events
    windows: list[Window] = field(default_factory=list)
    windows_first: bool = True


@dataclass(frozen=True)
class Void:
    action: Action
    window_id: str
    slots: frozenset[str]        # what the voided document held


@dataclass
class Timeline:
    tenants: list[str]
    steps: list[Step]
    #: (slot, window id) -> amount billed there, on live and voided documents alike
    billed: dict[tuple[str, str], Decimal]
    #: slot -> its amount over live documents at the end (its latest value)
    live: dict[str, Decimal]
    voids: list[Void]
    #: slots dated beyond the last instant (or in a period not closed yet): on no document
    not_due: set[str]
    #: slot -> (effective date, work date)
    dates: dict[str, tuple[dt.date, dt.date]]

    @property
    def final_clock(self) -> dt.datetime:
        return self.steps[-1].clock

    def window_ids(self) -> list[str]:
        return [w.window_id for s in self.steps for w in s.windows]


@dataclass
class _Slot:
    tenant_id: str
    cycle: str
    effective: dt.date
    work: dt.date
    wanted: Decimal
    credit: bool = False
    billings: list[list] = field(default_factory=list)   # [window id, amount, live?, placement id]


class _Oracle:
    """Applies steps in order and bills windows by the seed's rule."""

    def __init__(self) -> None:
        self.slots: dict[str, _Slot] = {}
        self.placement_of: dict[str, str] = {}
        self.voids: list[Void] = []

    def set(self, slot: str, placement_id: str, **fields) -> None:
        current = self.slots.get(slot)
        if current is None:
            self.slots[slot] = _Slot(**fields)
            self.placement_of[slot] = placement_id
        else:
            current.wanted = fields["wanted"]

    def close(self, window: Window, tenants: list[str]) -> None:
        for slot, s in sorted(self.slots.items()):
            if s.tenant_id not in tenants or s.cycle != window.cycle:
                continue
            if s.work > window.period_end or s.effective > window.as_of:
                continue
            outstanding = s.wanted - sum((b[1] for b in s.billings if b[2]), ZERO)
            if outstanding != 0:
                s.billings.append([window.window_id, outstanding, True, self.placement_of[slot]])

    def void(self, action: Action) -> None:
        """The document holding `pay_line_id`'s latest live billing: its placement's invoice
        lines of that window (the scenario voids PLACEMENT-batched placements only)."""
        target = self.slots[action.pay_line_id]
        window_id = next(b[0] for b in reversed(target.billings) if b[2])
        held = set()
        for slot, s in self.slots.items():
            if self.placement_of[slot] != action.placement_id or s.credit:
                continue
            for b in s.billings:
                if b[0] == window_id and b[2]:
                    b[2] = False
                    held.add(slot)
        self.voids.append(Void(action, window_id, frozenset(held)))


class _Builder:
    def __init__(self, seed: int, tenant_prefix: str) -> None:
        self.sim = Simulator(tenants=1, placements=1, weeks=1, seed=seed, start=dt.date(2026, 9, 7))
        self.rng = self.sim.rng
        self.prefix = tenant_prefix
        self.oracle = _Oracle()
        self.steps: dict[dt.datetime, Step] = {}

    def step(self, when: dt.datetime) -> Step:
        return self.steps.setdefault(when, Step(when))

    def emit(self, when: dt.datetime, topic: str, key: str, schema: str, record: dict) -> None:
        self.step(when).events.append(SimEvent(topic, key.encode(), schema, record))

    # ---- records
    def placement(self, tenant: str, pid: str, company: str, *, ptype: str, cycle: str, option: str,
                  start: dt.date, first_step: dt.datetime) -> dict:
        rec = self.sim._placement(tenant, pid, (company, None, None), ptype, start)
        rec.update(billing_cycle=cycle, batch_option=option, purchase_order=None, ap_contact_override=None,
                   occurred_at=first_step)
        if ptype == "PERM":
            rec["bill_rates"] = []
        self.emit(first_step, ATS_PLACEMENTS, f"{tenant}:{pid}", "PlacementUpserted", rec)
        return rec

    def timesheet(self, placement: dict, week_ending: dt.date, when: dt.datetime, version: int = 1,
                  base: dict | None = None, extra_reg: Decimal = Decimal(0)) -> dict:
        if base is None:
            ts = self.sim._timesheet(placement, week_ending, version)
        else:           # a re-approval: the same days, a few more regular hours on the first one
            ts = dict(base, event_id=self.sim.ids.event(), version=version,
                      entries=[dict(e) for e in base["entries"]])
            ts["entries"][0]["hours"] += extra_reg
        ts.update(occurred_at=when, approved_at=when)
        tenant, pid = placement["tenant_id"], placement["placement_id"]
        self.emit(when, ATS_TIMESHEETS, f"{tenant}:{pid}", "TimesheetApproved", ts)
        rates = {r["pay_code"]: r["rate"] for r in placement["bill_rates"]}
        hours: dict[str, Decimal] = {}
        for e in ts["entries"]:
            hours[e["pay_code"]] = hours.get(e["pay_code"], Decimal(0)) + e["hours"]
        for code, h in hours.items():
            slot = f"{tenant}:{pid}|TS|{ts['timesheet_id']}|{code}"
            self.pending.append((when, slot, pid, dict(
                tenant_id=tenant, cycle=placement["billing_cycle"], effective=week_ending, work=week_ending,
                wanted=_money(h * rates[code]))))
        return ts

    def fee(self, placement: dict, fee_id: str, effective: dt.date, when: dt.datetime, *,
            kind: str | None = None, price: Decimal | None = None) -> None:
        item, catalog_kind, desc, catalog_price, taxable = self.rng.choice(CATALOG)
        qty = Decimal(self.rng.choice([1, 1, 2]))
        if kind == "PLACEMENT_FEE":
            item, desc, qty, taxable = None, f"Placement fee: {placement['candidate_name']}", Decimal(1), False
        rec = self.sim._fee(placement, fee_id, kind or catalog_kind, item, desc, qty, price or catalog_price,
                            effective, taxable)
        rec["occurred_at"] = when
        tenant, pid = placement["tenant_id"], placement["placement_id"]
        self.emit(when, ATS_FEES, f"{tenant}:{pid}", "FeeRealized", rec)
        self.pending.append((when, f"{tenant}:{pid}|FEE|{fee_id}", pid, dict(
            tenant_id=tenant, cycle=placement["billing_cycle"], effective=effective, work=effective,
            wanted=_money(qty * rec["unit_price"]))))

    pending: list


FIRST = _noon(dt.date(2026, 9, 10))                       # Thursday: accounts and placements
WEEKS = [dt.date(2026, 8, 30) + dt.timedelta(weeks=k) for k in range(7)]   # Sundays 8/30 .. 10/11
FINAL = _noon(dt.date(2026, 10, 14))                      # Wednesday after the 10/11 window ran


def build_timeline(*, tenants: int = 2, seed: int = 3, tenant_prefix: str = "") -> Timeline:
    """The scenario of the module docstring, per tenant, with seeded rates, hours and catalog items."""
    b = _Builder(seed, tenant_prefix)
    b.pending = []
    actions: list[tuple[dt.datetime, Action]] = []
    tenant_ids = [f"{tenant_prefix}tenant-{t + 1:02d}" for t in range(tenants)]
    fri = {we: _noon(we - dt.timedelta(days=2)) for we in WEEKS}
    mon = {we: _noon(we + dt.timedelta(days=1)) for we in WEEKS}
    first_fri = _noon(dt.date(2026, 9, 11))
    for tenant in tenant_ids:
        company = "co-1"
        b.emit(FIRST, ATS_ACCOUNTS, f"{tenant}:{company}", "AccountUpserted",
               dict(account_record(tenant, company, f"{tenant} Holdings", mode="SEMI_AUTOMATIC",
                                   tax_rate=b.rng.choice([Decimal("0"), Decimal("0.0625"), Decimal("0.0825")])),
                    occurred_at=FIRST))

        def place(i, **kw):
            return b.placement(tenant, f"{tenant}-pl{i}", company, first_step=FIRST, **kw)

        starts = [dt.date(2026, 8, 24), dt.date(2026, 8, 24), dt.date(2026, 8, 31), dt.date(2026, 9, 7),
                  dt.date(2026, 8, 31)]
        temps = [place(i, ptype="TEMP", cycle=WEEKLY, option="PLACEMENT" if i == 4 else "ACCOUNT", start=s)
                 for i, s in enumerate(starts)]
        perm = place(5, ptype="PERM", cycle=WEEKLY, option="PLACEMENT", start=dt.date(2026, 9, 21))
        monthly = place(6, ptype="TEMP", cycle=MONTHLY, option="ACCOUNT", start=dt.date(2026, 9, 1))
        semi = place(7, ptype="TEMP", cycle=SEMI_MONTHLY, option="ACCOUNT", start=dt.date(2026, 9, 1))

        # -- timesheets: normal (Monday after), early (Friday before the week ends), late (a week late)
        forced = {(0, WEEKS[2]): "early", (1, WEEKS[2]): "early2", (0, WEEKS[3]): "normal+adj",
                  (4, WEEKS[2]): "normal+adj", (2, WEEKS[3]): "late", (3, WEEKS[4]): "early",
                  (4, WEEKS[3]): "normal"}
        for i, p in enumerate(temps):
            for k, we in enumerate(WEEKS):
                if we < p["start_date"]:
                    continue
                timing = forced.get((i, we))
                if timing is None:
                    choices = ["normal"] * 5 + ["early"] * 2 + ["early2"] + ["normal+adj"] + ["late"] * 2
                    if we == WEEKS[-1]:           # a week late or a correction after 10/14: out of the run
                        choices = [c for c in choices if c not in ("late", "normal+adj")]
                    timing = b.rng.choice(choices)
                if mon[we] <= first_fri:          # weeks that ended before the first step: all arrive late
                    b.timesheet(p, we, first_fri)
                    continue
                if timing == "late":
                    b.timesheet(p, we, mon[we] + dt.timedelta(weeks=1))
                elif timing.startswith("early"):
                    ts = b.timesheet(p, we, fri[we])
                    if timing == "early2":        # corrected on Monday, before its window: replaced, not adjusted
                        b.timesheet(p, we, mon[we], version=2, base=ts, extra_reg=Decimal("1.5"))
                else:
                    ts = b.timesheet(p, we, mon[we])
                    if timing == "normal+adj":    # corrected on Friday, after its window billed it
                        b.timesheet(p, we, fri[we] + dt.timedelta(weeks=1), version=2, base=ts,
                                    extra_reg=Decimal("2.25"))

        # -- fees and products, past- and future-dated
        b.fee(temps[0], f"fee-{tenant}-a", dt.date(2026, 9, 1), first_fri)        # past
        b.fee(temps[1], f"fee-{tenant}-b", dt.date(2026, 9, 16), first_fri)       # future: W 9/20
        b.fee(temps[2], f"fee-{tenant}-c", dt.date(2026, 9, 14), first_fri)       # after 9/13's period, before its run
        b.fee(temps[3], f"fee-{tenant}-d", dt.date(2026, 12, 1), first_fri)       # beyond the last instant
        b.fee(temps[3], f"fee-{tenant}-e", dt.date(2026, 10, 7), fri[WEEKS[3]])   # future: W 10/11
        b.fee(perm, f"fee-{tenant}-perm", perm["start_date"], first_fri, kind="PLACEMENT_FEE",
              price=_money(Decimal(b.rng.randint(45, 160)) * 200))                 # future: W 9/27
        b.fee(monthly, f"fee-{tenant}-m1", dt.date(2026, 9, 5), first_fri)        # past: M 9/30
        b.fee(monthly, f"fee-{tenant}-m2", dt.date(2026, 9, 25), first_fri)       # future: M 9/30
        b.fee(monthly, f"fee-{tenant}-m3", dt.date(2026, 10, 20), first_fri)      # October: not closed yet
        b.fee(semi, f"fee-{tenant}-s1", dt.date(2026, 9, 12), first_fri)          # future: SM 9/15
        b.fee(semi, f"fee-{tenant}-s2", dt.date(2026, 9, 22), first_fri)          # future: SM 9/30
        b.fee(semi, f"fee-{tenant}-s3", dt.date(2026, 10, 16), first_fri)         # beyond the last instant

        # -- operator: void the PLACEMENT-batched invoice of week 9/20, credit a line billed on 9/13
        void_at = fri[WEEKS[4]]                                                    # Fri 9/25, after W 9/20 ran
        pl4 = temps[4]["placement_id"]
        actions.append((void_at, Action("VOID", tenant, f"{tenant}-void-1", pl4,
                                        f"{tenant}:{pl4}|TS|ts-{pl4}-{WEEKS[3]:%Y%m%d}|REG")))
        pl0 = temps[0]["placement_id"]
        actions.append((void_at, Action("CREATE_CREDIT_MEMO", tenant, f"{tenant}-credit-1", pl0,
                                        f"{tenant}:{pl0}|TS|ts-{pl0}-{WEEKS[1]:%Y%m%d}|REG", as_of=void_at.date())))

    for when in [_noon(d) for d in (dt.date(2026, 9, 11),)] + list(fri.values()) + list(mon.values()) + [FINAL]:
        if FIRST < when <= FINAL:
            b.step(when)
    for when, action in actions:
        b.step(when).actions.append(action)
    return _run_oracle(b, tenant_ids)


def _run_oracle(b: _Builder, tenant_ids: list[str]) -> Timeline:
    steps = [b.steps[k] for k in sorted(b.steps)]
    steps[0].windows_first = False           # nothing billable yet: the tenants must exist before windows close
    oracle = b.oracle
    by_step: dict[dt.datetime, list] = {}
    for when, slot, pid, fields in b.pending:
        by_step.setdefault(when, []).append((slot, pid, fields))
    previous = steps[0].clock - dt.timedelta(days=CATCH_UP_DAYS)
    for step in steps:
        step.windows = windows_running_in(previous, step.clock)
        if step.windows_first:
            for w in step.windows:
                oracle.close(w, tenant_ids)
        for slot, pid, fields in by_step.get(step.clock, []):
            oracle.set(slot, pid, **fields)
        for action in step.actions:
            if action.kind == "VOID":
                oracle.void(action)
            else:
                original = oracle.slots[action.pay_line_id]
                amount = _money(original.wanted / 4)
                step.actions[step.actions.index(action)] = action = Action(
                    action.kind, action.tenant_id, action.command_id, action.placement_id, action.pay_line_id,
                    amount, action.as_of)
                oracle.set(f"{action.tenant_id}:{action.placement_id}|CR|{action.command_id}", action.placement_id,
                           tenant_id=action.tenant_id, cycle=original.cycle, effective=action.as_of,
                           work=action.as_of, wanted=-amount, credit=True)
        if not step.windows_first:
            for w in step.windows:
                oracle.close(w, tenant_ids)
        previous = step.clock
    billed: dict[tuple[str, str], Decimal] = {}
    live: dict[str, Decimal] = {}
    not_due = set()
    for slot, s in oracle.slots.items():
        for window_id, amount, is_live, _ in s.billings:
            billed[(slot, window_id)] = billed.get((slot, window_id), ZERO) + amount
            if is_live:
                live[slot] = live.get(slot, ZERO) + amount
        if not s.billings:
            not_due.add(slot)
    return Timeline(tenant_ids, steps, billed, live, oracle.voids, not_due,
                    {slot: (s.effective, s.work) for slot, s in oracle.slots.items()})
