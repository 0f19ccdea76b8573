"""bench/soak.py's oracle can disagree: a line missing, on two invoices, billed beyond its
amount, or not owed at all is counted; an adjustment that brings a slot to its latest amount,
or a replayed InvoiceGenerated, is not."""
from decimal import Decimal

from bench.soak import compare

EXPECTED = {"t:p|TS|w1|REG": Decimal("100.00"), "t:p|TS|w2|REG": Decimal("50.00"), "t:p|FEE|f1": Decimal("75.00")}


def inv(invoice_id, number, *lines, tenant="t"):
    return {"tenant_id": tenant, "event_type": "GENERATED", "invoice_id": invoice_id, "number": str(number),
            "lines": [{"pay_line_id": k, "amount": Decimal(a)} for k, a in lines]}


def test_a_clean_run_with_an_adjustment_and_a_replayed_event_is_clean():
    events = [inv("i1", 1, ("t:p|TS|w1|REG", "90.00"), ("t:p|FEE|f1", "75.00")),
              inv("i1", 1, ("t:p|TS|w1|REG", "90.00"), ("t:p|FEE|f1", "75.00")),          # replayed
              inv("i2", 2, ("t:p|TS|w1|REG|adj0", "10.00"), ("t:p|TS|w2|REG", "50.00")),
              inv("x1", 1, ("t:p|TS|w2|REG", "50.00"), tenant="other")]                  # not ours
    out = compare(events, EXPECTED, {"t"})
    assert (out["lost"], out["duplicated"], out["tenants_with_number_gaps"]) == (0, 0, 0), out


def test_lost_duplicated_overbilled_unowed_and_gaps_are_counted():
    events = [inv("i1", 1, ("t:p|TS|w1|REG", "100.00")),
              inv("i3", 3, ("t:p|TS|w1|REG", "100.00"), ("t:p|TS|w2|REG", "60.00"), ("t:p|TS|w9|DT", "5.00"))]
    out = compare(events, EXPECTED, {"t"})
    assert out["lost"] == 1 and out["lost_sample"] == ["t:p|FEE|f1"]
    assert out["duplicated"] == 3     # w1 on two invoices, w2 over its amount, w9 not owed
    assert out["tenants_with_number_gaps"] == 1
