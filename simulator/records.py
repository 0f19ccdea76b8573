"""Plain ATS event records for hand-built scenarios (tests, benchmarks): the fields of
schemas/avro/ats_*.avsc with sensible defaults, one Billto company per account."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

UTC = dt.timezone.utc
WHEN = dt.datetime(2026, 8, 1, tzinfo=UTC)


def account_record(tenant: str, entity_id: str, name: str, *, mode: str = "SEMI_AUTOMATIC",
                   tax_rate: Decimal = Decimal("0.0625"), version: int = 1) -> dict:
    return {"event_id": f"{tenant}-{entity_id}-{version}", "tenant_id": tenant, "occurred_at": WHEN,
            "entity_type": "COMPANY", "entity_id": entity_id, "parent_id": None, "account_name": name,
            "ap_contact": {"name": "AP Desk", "email": f"ap-{entity_id}@example.com", "phone": None},
            "address": None, "invoicing_mode": mode, "net_terms_days": 30, "tax_rate": tax_rate,
            "default_template": None, "currency": "USD", "version": version}


def placement_record(tenant: str, placement_id: str, company_id: str, *, option: str = "ACCOUNT",
                     reg: Decimal = Decimal("31.50"), ot: Decimal = Decimal("47.25"), cycle: str = "WEEKLY",
                     start: dt.date = dt.date(2026, 8, 31), version: int = 1) -> dict:
    return {"event_id": f"{tenant}-{placement_id}-{version}", "tenant_id": tenant, "occurred_at": WHEN,
            "placement_id": placement_id, "placement_type": "TEMP", "candidate_name": f"Candidate {placement_id}",
            "job_title": "Welder", "company_id": company_id, "client_id": None, "office_id": None,
            "batch_option": option, "purchase_order": None, "ap_contact_override": None, "billing_cycle": cycle,
            "bill_rates": [{"pay_code": "REG", "rate": reg}, {"pay_code": "OT", "rate": ot}],
            "start_date": start, "end_date": None, "status": "ACTIVE", "version": version}


def timesheet_record(tenant: str, placement_id: str, week_ending: dt.date, *, reg_hours: Decimal = Decimal(8),
                     ot_hours: Decimal = Decimal("2.5"), version: int = 1) -> dict:
    """Five REG days and one OT entry: two pay lines."""
    approved = dt.datetime.combine(week_ending + dt.timedelta(days=1), dt.time(10), tzinfo=UTC)
    entries = [{"work_date": week_ending - dt.timedelta(days=6 - d), "pay_code": "REG", "hours": reg_hours}
               for d in range(5)]
    if ot_hours:
        entries.append({"work_date": week_ending - dt.timedelta(days=2), "pay_code": "OT", "hours": ot_hours})
    return {"event_id": f"{tenant}-{placement_id}-{week_ending}-{version}", "tenant_id": tenant,
            "occurred_at": approved, "timesheet_id": f"ts-{placement_id}-{week_ending:%Y%m%d}",
            "placement_id": placement_id, "week_ending": week_ending, "entries": entries, "approved_at": approved,
            "approver": "Site Lead", "version": version}
