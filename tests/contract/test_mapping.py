import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.model import (
    Address, Contact, DocumentKind, DocumentStatus, Invoice, InvoiceLine, InvoicingMode, LineCategory,
    LineItemStatus,
)
from backoffice.figures import complete
from schemas.codec import decode, encode
from schemas.mapping import (
    InvalidEvent, fee_from_record, invoice_from_record, invoice_to_record, placement_from_record,
    timesheet_from_record,
)

UTC = dt.timezone.utc
money = st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
qty = st.decimals(min_value=0, max_value=10**4, places=4, allow_nan=False, allow_infinity=False)
ids = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=12)

lines = st.builds(
    InvoiceLine, line_id=ids, pay_line_id=ids, placement_id=ids, description=st.text(max_size=30),
    quantity=qty, rate=qty, amount=money, taxable=st.booleans(), category=st.sampled_from(LineCategory),
    status=st.sampled_from(LineItemStatus), pay_code=st.none() | st.sampled_from(["REG", "OT", "DT"]),
    work_date=st.none() | st.dates(), credited_line_id=st.none() | ids, credited_invoice_id=st.none() | ids)
invoices = st.builds(
    Invoice, tenant_id=ids, invoice_id=ids, batch_id=ids, kind=st.sampled_from(DocumentKind), account_id=ids,
    account_name=st.text(max_size=20), grouping_key=ids, currency=st.sampled_from(["USD", "EUR"]),
    lines=st.lists(lines, max_size=4).map(tuple), subtotal=money, tax=money, total=money,
    tax_rate=st.decimals(min_value=0, max_value=1, places=4), issue_date=st.dates(), due_date=st.dates(),
    period_start=st.dates(), period_end=st.dates(), net_terms_days=st.integers(0, 120),
    invoicing_mode=st.sampled_from(InvoicingMode), number=st.none() | st.integers(1, 10**6).map(str),
    status=st.sampled_from(DocumentStatus),
    bill_to_contact=st.none() | st.builds(Contact, name=st.text(max_size=10), email=st.none() | st.emails()),
    bill_to_address=st.none() | st.builds(Address, line1=st.text(max_size=10), city=st.text(max_size=10)),
    purchase_order=st.none() | ids, template=st.none() | ids, version=st.integers(0, 50))


@settings(max_examples=60, deadline=None)
@given(invoices)
def test_invoice_round_trips_through_avro_losslessly(invoice):
    rec = invoice_to_record(invoice, event_id="e", event_type="GENERATED",
                            occurred_at=dt.datetime(2026, 11, 23, tzinfo=UTC))
    back = invoice_from_record(decode(encode("InvoiceEvent", rec)).record)
    assert back == complete(invoice), "figures travel on the event; missing ones are derived once, on decode"
    assert complete(back) is back


def _timesheet(**over):
    rec = {"event_id": "e1", "tenant_id": "t1", "occurred_at": dt.datetime(2026, 11, 23, tzinfo=UTC),
           "timesheet_id": "ts1", "placement_id": "p1", "week_ending": dt.date(2026, 11, 22),
           "entries": [{"work_date": dt.date(2026, 11, 17), "pay_code": "REG", "hours": Decimal("8")}],
           "approved_at": dt.datetime(2026, 11, 23, tzinfo=UTC), "approver": "Jo", "version": 1}
    rec.update(over)
    return rec


def test_negative_hours_are_an_invalid_event():
    bad = _timesheet(entries=[{"work_date": dt.date(2026, 11, 17), "pay_code": "REG", "hours": Decimal("-1")}])
    with pytest.raises(InvalidEvent, match="negative hours"):
        timesheet_from_record(bad)


def test_work_date_outside_the_week_is_an_invalid_event():
    bad = _timesheet(entries=[{"work_date": dt.date(2026, 11, 23), "pay_code": "REG", "hours": Decimal("1")}])
    with pytest.raises(InvalidEvent, match="outside the week"):
        timesheet_from_record(bad)


def test_valid_timesheet_maps_to_domain():
    ts = timesheet_from_record(_timesheet())
    assert ts.entries[0].hours == Decimal("8") and ts.version == 1 and ts.approver == "Jo"


def test_fee_with_zero_quantity_is_invalid():
    rec = {"event_id": "e", "tenant_id": "t", "fee_id": "f", "placement_id": "p", "kind": "PRODUCT",
           "description": "x", "quantity": Decimal(0), "unit_price": Decimal(1), "effective_date": dt.date.today()}
    with pytest.raises(InvalidEvent, match="quantity must be positive"):
        fee_from_record(rec)


def test_placement_with_end_before_start_is_invalid():
    rec = {"tenant_id": "t", "placement_id": "p", "placement_type": "TEMP", "company_id": "c",
           "status": "ACTIVE", "version": 1, "start_date": dt.date(2026, 2, 1), "end_date": dt.date(2026, 1, 1)}
    with pytest.raises(InvalidEvent, match="before start_date"):
        placement_from_record(rec)
