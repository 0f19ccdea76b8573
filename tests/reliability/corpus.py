"""A hostile corpus: what a careless or malicious upstream sends, interleaved with valid events.

Each bad message carries the reason it must be refused with (an error class name, as the
dead letter's error_type, or a refusal outcome's text); the valid ones carry the pay lines
they must produce, computed here from the records (hours x rate), not by the code under test.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_COMMANDS
from simulator.records import account_record, placement_record, timesheet_record

UTC = dt.timezone.utc
MIB = 1024 * 1024
#: the worker's clock in the corpus runs (BACKOFFICE_CLOCK)
NOW = dt.datetime(2026, 10, 14, 12, tzinfo=UTC)
WEEKS = (dt.date(2026, 9, 13), dt.date(2026, 9, 20), dt.date(2026, 9, 27))
AS_OF = dt.date(2026, 10, 12)
REG, OT = Decimal("31.50"), Decimal("47.25")


@dataclass
class Message:
    topic: str
    key: bytes
    value: bytes
    reason: str | None = None          # None: valid; else the dead letter's error_type it must get
    label: str = ""


@dataclass
class Corpus:
    tenant: str
    messages: list[Message] = field(default_factory=list)
    expected_lines: dict[str, Decimal] = field(default_factory=dict)   # pay_line_id -> amount
    commands: list[tuple[str, dict, str]] = field(default_factory=list)  # (command id, record, expected text)

    def bad(self) -> list[Message]:
        return [m for m in self.messages if m.reason]


def command_record(tenant: str, cid: str, kind: str, **fields) -> dict:
    rec = {"event_id": cid, "tenant_id": tenant, "occurred_at": NOW, "command_id": cid, "command": kind,
           "requested_by": "corpus", "pay_line_id": None, "placement_id": None, "account_id": None,
           "first_number": None, "as_of": None, "window_id": None, "invoice_id": None, "batch_id": None,
           "invoice_line_id": None, "amount": None, "reason": None, "template": None, "recipients": [],
           "pay_line_ids": [], "resend": False, "taxable": None}
    rec.update(fields)
    return rec


def fee_record(tenant: str, pid: str, fee_id: str, *, description: str = "Onboarding kit",
               effective: dt.date = dt.date(2026, 9, 15), unit_price: Decimal = Decimal("120.00"),
               quantity: Decimal = Decimal("1.0000"), version: int = 1) -> dict:
    return {"event_id": f"{tenant}-{fee_id}-{version}", "tenant_id": tenant, "occurred_at": NOW, "fee_id": fee_id,
            "placement_id": pid, "kind": "PRODUCT", "catalog_item_id": None, "description": description,
            "quantity": quantity, "unit_price": unit_price, "effective_date": effective, "taxable": True,
            "version": version}


def _ts_lines(tenant: str, rec: dict) -> dict[str, Decimal]:
    hours: dict[str, Decimal] = {}
    for e in rec["entries"]:
        hours[e["pay_code"]] = hours.get(e["pay_code"], Decimal(0)) + e["hours"]
    rate = {"REG": REG, "OT": OT}
    return {f"{tenant}:{rec['placement_id']}|TS|{rec['timesheet_id']}|{code}":
            (h * rate[code]).quantize(Decimal("0.01"), ROUND_HALF_UP) for code, h in hours.items() if h}


def build(tenant: str, *, huge: bool = True, ghost_tenant: str | None = None) -> Corpus:
    """`huge`: include the ~1 MiB messages (the full corpus); without them it runs in seconds."""
    c = Corpus(tenant)
    key = lambda pid: f"{tenant}:{pid}".encode()    # noqa: E731

    def add(topic, k, schema, rec, reason=None, label=""):
        c.messages.append(Message(topic, k, encode(schema, rec), reason, label))

    def account(entity, reason=None, label="", **over):
        rec = {**account_record(tenant, entity, f"{entity.title()} Inc"), **over}
        add(ATS_ACCOUNTS, f"{tenant}:{entity}".encode(), "AccountUpserted", rec, reason, label)

    def placement(pid, reason=None, label="", **over):
        rec = {**placement_record(tenant, pid, "acme"), **over}
        add(ATS_PLACEMENTS, key(pid), "PlacementUpserted", rec, reason, label)

    def timesheet(pid, week, reason=None, label="", valid_lines=True, **over):
        rec = {**timesheet_record(tenant, pid, week), **over}
        add(ATS_TIMESHEETS, key(pid), "TimesheetApproved", rec, reason, label)
        if reason is None and valid_lines:
            c.expected_lines.update(_ts_lines(tenant, rec))
        return rec

    def fee(pid, fee_id, reason=None, label="", **over):
        rec = fee_record(tenant, pid, fee_id, **over)
        add(ATS_FEES, key(pid), "FeeRealized", rec, reason, label)
        if reason is None:
            c.expected_lines[f"{tenant}:{pid}|FEE|{fee_id}"] = (rec["quantity"] * rec["unit_price"]).quantize(
                Decimal("0.01"), ROUND_HALF_UP)

    account("acme")
    account("bigco", "ImplausibleTerms", "net terms 2e9", net_terms_days=2_000_000_000)
    account("wideco", "OversizedField", "2 KiB account name", account_name="N" * 2048)
    # valid placements; a timesheet for p2 arrives before its placement (parked, then applied)
    placement("p1")
    timesheet("p2", WEEKS[0])
    placement("p2")
    placement("p-rich", "ImplausibleAmount", "1e14 rate",
              bill_rates=[{"pay_code": "REG", "rate": Decimal("100000000000000.00")}])
    timesheet("p-rich", WEEKS[0], "UnknownPlacement", "timesheet of the 1e14-rate placement")
    for pid in ("p1", "p2"):
        for week in WEEKS[1:]:
            timesheet(pid, week)
    we = WEEKS[0]
    timesheet("p1", we, label="first version, 8 h a day")
    twelve = timesheet_record(tenant, "p1", we, reg_hours=Decimal(12))["entries"]
    timesheet("p1", we, "ConflictingDuplicate", "same id and version, 12 h a day", entries=twelve)
    day = {"work_date": we, "pay_code": "REG", "hours": Decimal(10_000)}
    timesheet("p1", we, "ImplausibleHours", "10,000-hour day", entries=[day],
              timesheet_id="ts-huge-day")
    week_175 = [{"work_date": we - dt.timedelta(days=d), "pay_code": "REG", "hours": Decimal(25)} for d in range(7)]
    timesheet("p1", we, "ImplausibleHours", "175-hour week", entries=week_175, timesheet_id="ts-175")
    for label, ending in (("week ending year 1", dt.date(1, 1, 7)), ("week ending 9999", dt.date(9999, 12, 31))):
        timesheet("p1", we, "DateOutOfRange", label, timesheet_id=f"ts-{ending.year}", week_ending=ending,
                  entries=[{"work_date": ending, "pay_code": "REG", "hours": Decimal(8)}])
    fee("p1", "fee-ok")
    fee("p1", "fee-year-1", "DateOutOfRange", "fee effective in year 1", effective=dt.date(1, 1, 1))
    fee("p2", "fee-rich", "ImplausibleAmount", "fee of 1e13", unit_price=Decimal("10000000000000.00"))
    timesheet("p-never", WEEKS[1], "UnknownPlacement", "placement that never comes")
    c.messages.append(Message(ATS_TIMESHEETS, key("p1"), b"\xc3\x01garbage!", "DecodeError", "garbage bytes"))
    c.messages.append(Message(BILLING_COMMANDS, tenant.encode(), encode("TimesheetApproved",
                              timesheet_record(tenant, "p1", WEEKS[1])), "WrongSchema", "a timesheet as a command"))
    if ghost_tenant:
        rec = timesheet_record(ghost_tenant, "px", WEEKS[1])
        c.messages.append(Message(ATS_TIMESHEETS, f"{ghost_tenant}:px".encode(), encode("TimesheetApproved", rec),
                                  "UnknownPlacement", "tenant that never gets a window"))
    if huge:
        account("hugeco", "OversizedMessage", "1 MiB account name", account_name="A" * MIB)
        placement("p-huge", "OversizedMessage", "1 MiB candidate name", candidate_name="C" * MIB)
        timesheet("p2", WEEKS[2], "OversizedMessage", "1 MiB approver", approver="R" * MIB,
                  timesheet_id="ts-huge-approver")
        fee("p2", "fee-huge", "OversizedMessage", "1 MiB fee description", description="D" * MIB)
        c.messages.append(Message(BILLING_COMMANDS, tenant.encode(), encode("OperatorCommand", command_record(
            tenant, f"{tenant}-credit-huge", "CREATE_CREDIT_MEMO", placement_id="p1", amount=Decimal("1.00"),
            reason="W" * MIB)), "OversizedMessage", "1 MiB command reason"))
    # more valid neighbours after the hostile ones
    fee("p2", "fee-after")
    for pid in ("p3", "p4"):
        placement(pid)
        timesheet(pid, WEEKS[2])
    # operator commands that must each be answered
    c.commands = [
        (f"{tenant}-close-y1", command_record(tenant, f"{tenant}-close-y1", "CLOSE_WINDOW",
                                              window_id="WEEKLY:0001-01-07"), "DATE_OUT_OF_RANGE"),
        (f"{tenant}-close-y9999", command_record(tenant, f"{tenant}-close-y9999", "CLOSE_WINDOW",
                                                 window_id="WEEKLY:9999-12-26"), "DATE_OUT_OF_RANGE"),
        (f"{tenant}-close-garbage", command_record(tenant, f"{tenant}-close-garbage", "CLOSE_WINDOW",
                                                   window_id="WEEKLY:not-a-date"), "is not CYCLE:YYYY-MM-DD"),
        (f"{tenant}-gen-9999", command_record(tenant, f"{tenant}-gen-9999", "GENERATE",
                                              as_of=dt.date(9999, 12, 31)), "DATE_OUT_OF_RANGE"),
    ]
    return c
