from decimal import Decimal

import pytest

from backoffice.money import MoneyError, line_amount, round_cents, to_decimal


def test_line_amount_rounds_half_up_to_the_cent():
    assert line_amount(Decimal("1.5"), Decimal("10.005")) == Decimal("15.01")  # 15.0075
    assert line_amount(Decimal("1"), Decimal("0.005")) == Decimal("0.01")
    assert round_cents(Decimal("-0.005")) == Decimal("-0.01")


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        to_decimal(0.1)
    with pytest.raises(MoneyError):
        to_decimal("NaN")


def test_a_typed_amount_is_cents_exactly_or_refused():
    from backoffice.money import MoneyError, cents

    assert cents("12.5") == Decimal("12.50") and str(cents("7")) == "7.00"
    for bad in ("10.005", "0.001", "NaN", "ten"):
        with pytest.raises(MoneyError):
            cents(bad)
