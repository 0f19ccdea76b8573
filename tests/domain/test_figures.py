"""backoffice.figures against small reference models written from the rules, not from the code."""
from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice import figures
from backoffice.errors import CreditExceedsOpenAmount, UnrepresentableLine
from backoffice.figures import allocate_tax, check_allocations, priced_form, vendor_figures
from backoffice.model import DocumentKind
from tests.documents import factories

D = Decimal


def reference_largest_remainder(amounts, taxable, tax):
    """Hamilton's method with exact fractions: floor every exact share to the cent, hand the cents
    left over to the largest remainders, earlier line first on a tie."""
    bearers = [i for i, t in enumerate(taxable) if t] or list(range(len(amounts)))
    weights = {i: Fraction(amounts[i]) for i in bearers}
    if sum(weights.values()) == 0:
        weights = {i: Fraction(1) for i in bearers}
    base = sum(weights.values())
    exact = {i: Fraction(tax) * 100 * weights[i] / base for i in bearers}     # in cents
    floor = {i: exact[i].numerator // exact[i].denominator for i in bearers}
    left = int(Fraction(tax) * 100) - sum(floor.values())
    for i in sorted(bearers, key=lambda i: (-(exact[i] - floor[i]), i))[:left]:
        floor[i] += 1
    return [D(floor[i]) / 100 if i in floor else D("0.00") for i in range(len(amounts))]


money = st.decimals(min_value=D("-5000"), max_value=D("5000"), places=2)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(money, st.booleans()), min_size=1, max_size=12), money)
def test_tax_shares_follow_the_largest_remainder_rule_and_add_up(lines, tax):
    amounts, taxable = [a for a, _ in lines], [t for _, t in lines]
    shares = allocate_tax(amounts, taxable, tax)
    assert sum(shares) == tax
    assert shares == reference_largest_remainder(amounts, taxable, tax)
    if any(taxable):
        assert all(s == 0 for s, t in zip(shares, taxable) if not t)


def test_one_cent_left_over_goes_to_the_first_of_equal_lines():
    assert allocate_tax([D("10.00")] * 3, [True] * 3, D("1.00")) == [D("0.34"), D("0.33"), D("0.33")]


def test_tax_on_a_zero_base_is_not_dropped():
    shares = allocate_tax([D("10.00"), D("-10.00"), D("5.00")], [True, True, False], D("0.01"))
    assert shares == [D("0.01"), D("0.00"), D("0.00")]


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=D("-300"), max_value=D("300"), places=2),
       st.decimals(min_value=D("0"), max_value=D("999"), places=4), money)
def test_the_priced_form_always_multiplies_out_to_the_amount(quantity, rate, amount):
    q, r = priced_form(quantity, rate, amount)
    assert (q * r).quantize(D("0.01"), ROUND_HALF_UP) == amount
    if (quantity * rate).quantize(D("0.01"), ROUND_HALF_UP) == amount:
        assert (q, r) == (quantity, rate), "a consistent line prints as it is"


def test_rate_prints_with_every_decimal_beyond_two():
    assert [figures.rate_places(D(x)) for x in ("25.5", "25.50", "27.3333", "41.005", "100")] == [2, 2, 4, 3, 2]


def test_a_line_xero_cannot_hold_is_refused_by_name():
    ok = factories.invoice((factories.line(1, "x", "7.5", "45.1875"),))
    assert vendor_figures(ok, figures.XERO).lines[0].amount == D("338.91")
    # with Xero's default 2-decimal UnitAmount the same line would be 7.5 x 45.19 = 338.93
    assert (D("7.5") * D("45.19")).quantize(D("0.01"), ROUND_HALF_UP) == D("338.93")
    bad = factories.invoice((factories.line(1, "x", "40", "27.33335"),))
    with pytest.raises(UnrepresentableLine, match="4-decimal unit price"):
        vendor_figures(bad, figures.XERO)
    assert vendor_figures(bad, figures.QUICKBOOKS).lines[0].rate == D("27.33335")


def _memo(invoice_id, *credits):
    lines = tuple(dataclasses.replace(factories.line(i, "credit", "1", f"-{amount}"), credited_invoice_id=credited)
                  for i, (credited, amount) in enumerate(credits))
    return figures.settle(factories.invoice(lines, kind=DocumentKind.CREDIT_MEMO, invoice_id=invoice_id,
                                            tax_rate="0.10"))


def test_credit_allocations_per_original_include_the_tax_share():
    # tax -13.33 over -100.00/-33.33/-0.01: shares -10.00/-3.33/-0.00 (remainders .3/.77/.9, two cents left)
    memo = _memo("cm-1", ("inv-a", "100.00"), ("inv-b", "33.33"), ("inv-a", "0.01"))
    assert [(a.invoice_id, a.amount) for a in memo.allocations] == [("inv-a", D("110.01")), ("inv-b", D("36.66"))]
    assert sum(a.amount for a in memo.allocations) == -memo.total


def test_a_credit_above_the_originals_open_amount_is_refused():
    original = figures.settle(factories.invoice((factories.line(1, "x", "1", "100.00"),), invoice_id="inv-a",
                                                tax_rate="0.10"))
    first = _memo("cm-1", ("inv-a", "60.00"))
    check_allocations(first, {"inv-a": original}, [])                         # 66.00 of 110.00
    second = _memo("cm-2", ("inv-a", "40.01"))                                # 44.01 > 44.00 left
    with pytest.raises(CreditExceedsOpenAmount, match="open amount is 44.00"):
        check_allocations(second, {"inv-a": original}, [first])
    check_allocations(_memo("cm-3", ("inv-a", "40.00")), {"inv-a": original}, [first])
