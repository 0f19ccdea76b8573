"""A reproducible ATS: Billto hierarchies, placements, weekly timesheets, fees.

Pure and deterministic: everything (ids, timestamps, amounts) comes from the seed
and the start date, never the wall clock, so the same arguments give the same
bytes. The expected pay lines are computed independently of `backoffice/` so the
tests have an oracle that does not share the code under test.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS

UTC = dt.timezone.utc
CENT = Decimal("0.01")
FIRST_NAMES = ["Ava", "Ben", "Chloe", "Diego", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena",
               "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wes", "Yuki"]
LAST_NAMES = ["Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jones", "Khan",
              "Lopez", "Meyer", "Nguyen", "Okafor", "Patel", "Rossi", "Singh", "Tanaka", "Weber"]
COMPANIES = ["Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark Logistics", "Wayne Health",
             "Acme Foods", "Soylent", "Hooli", "Vandelay Imports", "Wonka Industries"]
CITIES = [("Austin", "TX", "78701"), ("Denver", "CO", "80202"), ("Columbus", "OH", "43215"),
          ("Raleigh", "NC", "27601"), ("Phoenix", "AZ", "85004"), ("Tampa", "FL", "33602")]
JOBS = ["Forklift Operator", "Registered Nurse", "Warehouse Associate", "Data Analyst", "Line Cook",
        "Customer Service Rep", "Electrician", "Payroll Clerk", "Software Engineer", "Medical Assistant"]
CATALOG = [("CAT-BGC", "SERVICE", "Background check", Decimal("75.00"), False),
           ("CAT-DRUG", "SERVICE", "Drug screening", Decimal("45.50"), False),
           ("CAT-PPE", "PRODUCT", "Safety equipment kit", Decimal("129.99"), True),
           ("CAT-BADGE", "PRODUCT", "Access badge", Decimal("12.25"), True),
           ("CAT-ONB", "SERVICE", "Onboarding and orientation", Decimal("250.00"), True)]


@dataclass(frozen=True)
class SimEvent:
    """One message to publish: a record for `schema`, or raw bytes when deliberately malformed."""

    topic: str
    key: bytes
    schema: str | None
    record: dict[str, Any] | None = None
    raw: bytes | None = None
    bad_reason: str | None = None


@dataclass
class SimulatedStream:
    events: list[SimEvent] = field(default_factory=list)
    expected_pay_lines: list[dict[str, Any]] = field(default_factory=list)
    bad_events: int = 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.events:
            out[e.topic] = out.get(e.topic, 0) + 1
        return out


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def event(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _money(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _period_end(cycle: str, day: dt.date) -> dt.date | None:
    """Seed 003's periods: semi-monthly 1st-15th and 16th-month end, monthly the calendar month; weekly None."""
    if cycle == "WEEKLY":
        return None
    month_end = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return day.replace(day=15) if cycle == "SEMI_MONTHLY" and day.day <= 15 else month_end


def _week_ending(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(6 - day.weekday()) % 7)  # the Sunday ending day's week


class Simulator:
    def __init__(self, *, tenants: int, placements: int, weeks: int, seed: int, start: dt.date,
                 bad_rate: float = 0.0) -> None:
        self.tenants, self.placements_per_tenant, self.weeks = tenants, placements, weeks
        self.rng = random.Random(seed)
        self.ids = _Ids(self.rng)
        self.start = start - dt.timedelta(days=start.weekday())  # Monday of the first week
        self.bad_rate = bad_rate
        self.stream = SimulatedStream()
        self._expected: dict[tuple[str, str], list[dict]] = {}
        self._named = 0

    # -- events --------------------------------------------------------------------------------
    def _emit(self, topic: str, key: str, schema: str, record: dict) -> None:
        self.stream.events.append(SimEvent(topic, key.encode(), schema, record))

    def _emit_bad(self, topic: str, key: str, schema: str | None, reason: str, record=None, raw=None) -> None:
        self.stream.events.append(SimEvent(topic, key.encode(), schema, record, raw, reason))
        self.stream.bad_events += 1

    def _bad(self) -> bool:
        return self.bad_rate > 0 and self.rng.random() < self.bad_rate

    # -- hierarchy -----------------------------------------------------------------------------
    def _contact(self) -> dict:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        return {"name": f"{first} {last}", "email": f"{first.lower()}.{last.lower()}@ap.example.com", "phone": None}

    def _address(self) -> dict:
        city, region, postal = self.rng.choice(CITIES)
        return {"line1": f"{self.rng.randint(10, 9999)} {self.rng.choice(['Main', 'Oak', 'Market', 'Elm'])} St",
                "line2": "", "city": city, "region": region, "postal_code": postal, "country": "US"}

    NAMED_MODES = ("SEMI_AUTOMATIC", "AUTOMATIC", "SEMI_AUTOMATIC", "MANUAL", "AUTOMATIC", "SEMI_AUTOMATIC")

    def _account(self, tenant: str, kind: str, entity_id: str, parent: str | None, name: str | None,
                 mode: str, when: dt.datetime) -> dict:
        if name:   # Billto accounts rotate through the three modes so every sample has each
            mode = self.NAMED_MODES[self._named % len(self.NAMED_MODES)]
            self._named += 1
        return {"event_id": self.ids.event(), "tenant_id": tenant, "occurred_at": when, "entity_type": kind,
                "entity_id": entity_id, "parent_id": parent, "account_name": name,
                "ap_contact": self._contact() if name else None, "address": self._address() if name else None,
                "invoicing_mode": mode, "net_terms_days": self.rng.choice([15, 30, 30, 45]),
                "tax_rate": self.rng.choice([Decimal("0"), Decimal("0.0625"), Decimal("0.0825")]),
                "default_template": None, "currency": "USD", "version": 1}

    def _hierarchy(self, tenant: str, t_index: int) -> list[tuple[str, str, str | None]]:
        """Emit Company -> Clients -> Offices; returns (company, client, office) triples placements can use."""
        when = _at(self.start - dt.timedelta(days=7))
        level = ["COMPANY", "CLIENT", "OFFICE"][t_index % 3]   # where Account Name lives for this tenant
        company = f"co-{t_index:02d}"
        company_name = self.rng.choice(COMPANIES)
        modes = ["SEMI_AUTOMATIC"] * 6 + ["AUTOMATIC"] * 3 + ["MANUAL"]
        self._emit(ATS_ACCOUNTS, f"{tenant}:{company}", "AccountUpserted",
                   self._account(tenant, "COMPANY", company, None,
                                 f"{company_name} Holdings" if level == "COMPANY" else None,
                                 self.rng.choice(modes), when))
        sites = []
        for c in range(self.rng.randint(2, 4)):
            client = f"{company}-cl{c}"
            client_named = level == "CLIENT" or (level == "OFFICE" and c == 0)
            self._emit(ATS_ACCOUNTS, f"{tenant}:{client}", "AccountUpserted",
                       self._account(tenant, "CLIENT", client, company,
                                     f"{company_name} {['East', 'West', 'North', 'South'][c]}" if client_named else None,
                                     self.rng.choice(modes), when))
            offices = [None]
            for o in range(self.rng.randint(0, 2)):
                office = f"{client}-of{o}"
                named = level == "OFFICE"
                self._emit(ATS_ACCOUNTS, f"{tenant}:{office}", "AccountUpserted",
                           self._account(tenant, "OFFICE", office, client,
                                         f"{company_name} {CITIES[o][0]} Office" if named else None,
                                         self.rng.choice(modes), when))
                offices.append(office)
            if level == "OFFICE" and c != 0:
                offices = [o for o in offices if o is not None] or None
                if offices is None:   # keep every placement billable: fall back to a named office
                    office = f"{client}-of9"
                    self._emit(ATS_ACCOUNTS, f"{tenant}:{office}", "AccountUpserted",
                               self._account(tenant, "OFFICE", office, client, f"{company_name} Annex",
                                             "SEMI_AUTOMATIC", when))
                    offices = [office]
            sites.extend((company, client, office) for office in offices)
        return sites

    # -- placements ----------------------------------------------------------------------------
    def _placement(self, tenant: str, pid: str, site, ptype: str, start: dt.date) -> dict:
        company, client, office = site
        reg = Decimal(self.rng.randint(2200, 8500)) / 100
        rates = [{"pay_code": "REG", "rate": reg}, {"pay_code": "OT", "rate": _money(reg * Decimal("1.5"))}]
        if self.rng.random() < 0.6:
            rates.append({"pay_code": "DT", "rate": _money(reg * 2)})
        option = self.rng.choices(["ACCOUNT", "PLACEMENT", "PURCHASE_ORDER", "AP_CONTACT"], [6, 2, 1, 1])[0]
        if ptype == "PERM":
            option = self.rng.choice(["PLACEMENT", "PLACEMENT", "ACCOUNT"])
        return {"event_id": self.ids.event(), "tenant_id": tenant, "occurred_at": _at(start - dt.timedelta(days=3)),
                "placement_id": pid, "placement_type": ptype,
                "candidate_name": f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}",
                "job_title": self.rng.choice(JOBS), "company_id": company, "client_id": client, "office_id": office,
                "batch_option": option,
                "purchase_order": f"PO-{self.rng.randint(1000, 9999)}" if option == "PURCHASE_ORDER" or self.rng.random() < 0.2 else None,
                "ap_contact_override": self._contact() if option == "AP_CONTACT" else None,
                "billing_cycle": self.rng.choices(["WEEKLY", "SEMI_MONTHLY", "MONTHLY"], [8, 1, 1])[0],
                "bill_rates": rates if ptype != "PERM" else [],
                "start_date": start, "end_date": None, "status": "ACTIVE", "version": 1}

    def _timesheet(self, placement: dict, week_ending: dt.date, version: int, scale: Decimal = Decimal(1)) -> dict:
        codes = {r["pay_code"] for r in placement["bill_rates"]}
        entries = []
        for d in range(5):
            day = week_ending - dt.timedelta(days=6 - d)
            entries.append({"work_date": day, "pay_code": "REG",
                            "hours": (Decimal(self.rng.choice([6, 7, 8, 8, 8])) * scale).quantize(Decimal("0.25"))})
        if self.rng.random() < 0.4:
            entries.append({"work_date": week_ending - dt.timedelta(days=2), "pay_code": "OT",
                            "hours": Decimal(self.rng.choice(["1.5", "2", "4", "6.25"]))})
        if "DT" in codes and self.rng.random() < 0.15:
            entries.append({"work_date": week_ending, "pay_code": "DT", "hours": Decimal(self.rng.choice(["4", "8"]))})
        approved = _at(week_ending + dt.timedelta(days=1), 10 + min(version, 9))
        return {"event_id": self.ids.event(), "tenant_id": placement["tenant_id"], "occurred_at": approved,
                "timesheet_id": f"ts-{placement['placement_id']}-{week_ending:%Y%m%d}",
                "placement_id": placement["placement_id"], "week_ending": week_ending, "entries": entries,
                "approved_at": approved, "approver": self._contact()["name"], "version": version}

    def _fee(self, placement: dict, fee_id: str, kind: str, item: str | None, description: str, qty: Decimal,
             price: Decimal, effective: dt.date, taxable: bool) -> dict:
        return {"event_id": self.ids.event(), "tenant_id": placement["tenant_id"],
                "occurred_at": _at(min(effective, placement["start_date"])), "fee_id": fee_id,
                "placement_id": placement["placement_id"], "kind": kind, "catalog_item_id": item,
                "description": description, "quantity": qty, "unit_price": price, "effective_date": effective,
                "taxable": taxable, "version": 1}

    # -- expected ------------------------------------------------------------------------------
    def _expect_timesheet(self, placement: dict, ts: dict) -> list[dict]:
        """One line per pay code; on a semi-monthly or monthly placement, a week over a period end
        gives one per pay code and period, dated on the last day of the week inside that period."""
        rates = {r["pay_code"]: r["rate"] for r in placement["bill_rates"]}
        week = [ts["week_ending"] - dt.timedelta(days=n) for n in range(7)]
        ends = {d: _period_end(placement["billing_cycle"], d) for d in week}
        split = len(set(ends.values())) > 1
        last_day = {end: max(d for d in week if ends[d] == end) for end in ends.values()}
        hours: dict[tuple[str, dt.date | None], Decimal] = {}
        for e in ts["entries"]:
            key = (e["pay_code"], ends[e["work_date"]] if split else None)
            hours[key] = hours.get(key, Decimal(0)) + e["hours"]
        out = []
        for (code, end), h in sorted(hours.items(), key=lambda kv: (kv[0][0], kv[0][1] or dt.date.min)):
            if not h:
                continue
            day = last_day[end] if end else ts["week_ending"]
            out.append({"tenant_id": ts["tenant_id"], "placement_id": ts["placement_id"], "source": "TIMESHEET",
                        "timesheet_id": ts["timesheet_id"], "week_ending": ts["week_ending"].isoformat(),
                        "pay_code": code, "fee_id": None, "quantity": str(h), "rate": str(rates[code]),
                        "amount": str(_money(h * rates[code])), "effective_date": day.isoformat(),
                        "work_date": day.isoformat(), "period_end": end.isoformat() if end else None})
        return out

    @staticmethod
    def _expect_fee(fee: dict) -> dict:
        return {"tenant_id": fee["tenant_id"], "placement_id": fee["placement_id"], "source": "FEE",
                "timesheet_id": None, "week_ending": None, "pay_code": None, "fee_id": fee["fee_id"],
                "quantity": str(fee["quantity"]), "rate": str(fee["unit_price"]),
                "amount": str(_money(fee["quantity"] * fee["unit_price"])),
                "effective_date": fee["effective_date"].isoformat()}

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> SimulatedStream:
        end = self.start + dt.timedelta(weeks=self.weeks)
        plan: list[tuple[dt.datetime, int, SimEvent | tuple]] = []
        for t in range(self.tenants):
            tenant = f"tenant-{t + 1:02d}"
            sites = self._hierarchy(tenant, t)
            for p in range(self.placements_per_tenant):
                ptype = self.rng.choices(["TEMP", "PERM", "CONTRACT"], [7, 2, 1])[0]
                pid = f"{tenant}-pl{p:04d}"
                start = self.start + dt.timedelta(days=7 * self.rng.randint(0, max(0, self.weeks - 1)))
                placement = self._placement(tenant, pid, self.rng.choice(sites), ptype, start)
                self._emit(ATS_PLACEMENTS, f"{tenant}:{pid}", "PlacementUpserted", placement)
                self._plan_activity(plan, placement, end)
        plan.sort(key=lambda item: (item[0], item[1]))
        for _, _, action in plan:
            action()
        self.stream.expected_pay_lines = [line for lines in self._expected.values() for line in lines]
        return self.stream

    def _plan_activity(self, plan: list, placement: dict, end: dt.date) -> None:
        tenant, pid = placement["tenant_id"], placement["placement_id"]
        key = f"{tenant}:{pid}"
        seq = len(plan)

        def later(when: dt.datetime, fn) -> None:
            plan.append((when, seq * 1000 + len(plan), fn))

        if placement["placement_type"] == "PERM":
            salary = Decimal(self.rng.randint(45, 160)) * 1000
            fee = self._fee(placement, f"fee-{pid}", "PLACEMENT_FEE", None,
                            f"Placement fee: {placement['candidate_name']}, {placement['job_title']}",
                            Decimal(1), _money(salary * Decimal("0.20")), placement["start_date"], False)
            later(fee["occurred_at"], lambda f=fee: self._emit_fee(key, f))
        else:
            week_ending = _week_ending(placement["start_date"])
            while week_ending < end:
                ts = self._timesheet(placement, week_ending, 1)
                later(ts["occurred_at"], lambda ts=ts: self._emit_timesheet(key, placement, ts))
                if self.rng.random() < 0.05:    # a correction approved two days later
                    ts2 = self._timesheet(placement, week_ending, 2, scale=Decimal("1.1"))
                    ts2["occurred_at"] = ts2["approved_at"] = ts["approved_at"] + dt.timedelta(days=2)
                    later(ts2["occurred_at"], lambda ts=ts2: self._emit_timesheet(key, placement, ts))
                week_ending += dt.timedelta(days=7)
        if self.rng.random() < 0.35:
            item, kind, desc, price, taxable = self.rng.choice(CATALOG)
            offset = self.rng.choice([0, 3, 10, 7 * self.weeks + 30])   # the last one stays Scheduled
            effective = placement["start_date"] + dt.timedelta(days=offset)
            fee = self._fee(placement, f"fee-{pid}-{item}", kind, item, desc, Decimal(self.rng.choice([1, 1, 2])),
                            price, effective, taxable)
            later(fee["occurred_at"], lambda f=fee: self._emit_fee(key, f))
        if self.bad_rate > 0:
            later(_at(placement["start_date"], 12), lambda: self._maybe_bad(placement))

    def _emit_timesheet(self, key: str, placement: dict, ts: dict) -> None:
        self._emit(ATS_TIMESHEETS, key, "TimesheetApproved", ts)
        self._expected[("TS", ts["timesheet_id"])] = self._expect_timesheet(placement, ts)  # latest version wins

    def _emit_fee(self, key: str, fee: dict) -> None:
        self._emit(ATS_FEES, key, "FeeRealized", fee)
        self._expected[("FEE", fee["fee_id"])] = [self._expect_fee(fee)]

    def _maybe_bad(self, placement: dict) -> None:
        if not self._bad():
            return
        tenant, pid = placement["tenant_id"], placement["placement_id"]
        key = f"{tenant}:{pid}"
        kind = self.rng.choice(["garbage", "negative_hours", "unknown_placement", "missing_bill_rate"])
        if kind == "garbage":
            self._emit_bad(ATS_TIMESHEETS, key, None, "not Avro", raw=b"\x00garbage" + self.rng.randbytes(12))
        elif kind == "negative_hours" and placement["bill_rates"]:
            ts = self._timesheet(placement, _week_ending(placement["start_date"]), 99)
            ts["timesheet_id"] += "-bad"
            ts["entries"][0]["hours"] = Decimal("-8")
            self._emit_bad(ATS_TIMESHEETS, key, "TimesheetApproved", "negative hours", record=ts)
        elif kind == "missing_bill_rate" and placement["bill_rates"] and \
                "DT" not in {r["pay_code"] for r in placement["bill_rates"]}:
            ts = self._timesheet(placement, _week_ending(placement["start_date"]), 1)
            ts["timesheet_id"] += "-dt"
            ts["entries"] = [{"work_date": ts["week_ending"], "pay_code": "DT", "hours": Decimal("4")}]
            self._emit_bad(ATS_TIMESHEETS, key, "TimesheetApproved", "missing bill rate", record=ts)
        else:
            ghost = dict(self._fee(placement, f"fee-ghost-{pid}", "SERVICE", "CAT-BGC", "Background check",
                                   Decimal(1), Decimal("75.00"), placement["start_date"], False))
            ghost["placement_id"] = f"{pid}-ghost"
            self._emit_bad(ATS_FEES, f"{tenant}:{pid}-ghost", "FeeRealized", "unknown placement", record=ghost)


def generate(*, tenants: int, placements: int, weeks: int, seed: int, start: dt.date,
             bad_rate: float = 0.0) -> SimulatedStream:
    return Simulator(tenants=tenants, placements=placements, weeks=weeks, seed=seed, start=start,
                     bad_rate=bad_rate).run()
