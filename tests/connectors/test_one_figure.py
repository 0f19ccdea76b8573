"""Issue 13 at the vendor edge: the Xero API body, the Xero CSV and QuickBooks' arithmetic agree to the cent."""
from __future__ import annotations

import csv
import dataclasses
import io
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.model import LineCategory
from connectors.export import formats
from connectors.xero_payload import XeroOptions, document_payload
from tests.documents import factories

D = Decimal
CENT = D("0.01")


def _three_equal_lines():
    lines = tuple(factories.line(i, f"Item {i}", "1", "10.00", pay_code=None, category=LineCategory.PRODUCTS_SERVICES)
                  for i in (1, 2, 3))
    return factories.invoice(lines, tax_rate="0.0333")          # 30.00 x 3.33 % = 0.999 -> tax 1.00


def test_the_xero_api_body_and_the_xero_csv_split_the_tax_alike():
    """Tax 1.00 over three taxable 10.00 lines: the API body said 0.34/0.33/0.33, the CSV 0.33/0.33/0.34."""
    invoice = _three_equal_lines()
    assert invoice.tax == D("1.00")
    api = [D(str(item["TaxAmount"])) for item in document_payload(invoice, "c-1", XeroOptions())["LineItems"]]
    rows = list(csv.DictReader(io.StringIO(formats.xero_csv([invoice], date_format="DD/MM/YYYY")[0].decode())))
    exported = [D(row["TaxAmount"]) for row in sorted(rows, key=lambda r: r["*Description"])]
    assert api == exported == [D("0.34"), D("0.33"), D("0.33")]


def xero_line_amount(quantity: object, unit: object, unit_places: int = 4) -> Decimal:
    """Xero's arithmetic as documented: UnitAmount kept to 4 decimals with unitdp=4 (2 without),
    quantity to 4, LineAmount = Quantity x UnitAmount rounded to 2 decimals, half away from zero."""
    q = D(str(quantity)).quantize(D("0.0001"), ROUND_HALF_UP)
    u = D(str(unit)).quantize(D(1).scaleb(-unit_places), ROUND_HALF_UP)
    return (q * u).quantize(CENT, ROUND_HALF_UP)


hours = st.decimals(min_value=D("0.25"), max_value=D("80"), places=2)
rates = st.one_of(st.decimals(min_value=D("10"), max_value=D("250"), places=2),
                  st.decimals(min_value=D("10"), max_value=D("250"), places=4))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(hours, rates, st.booleans()), min_size=1, max_size=8), st.sampled_from(["0", "0.0625", "0.0825"]))
def test_xeros_own_arithmetic_lands_on_our_cents(lines, tax_rate):
    from backoffice.figures import settle

    built = tuple(dataclasses.replace(factories.line(i, f"L{i}", str(h), str(r)), taxable=t)
                  for i, (h, r, t) in enumerate(lines))
    invoice = settle(factories.invoice(built, tax_rate=tax_rate))
    items = document_payload(invoice, "c-1", XeroOptions())["LineItems"]
    for line, item in zip(invoice.lines, items, strict=True):
        assert xero_line_amount(item["Quantity"], item["UnitAmount"]) == line.amount == D(str(item["LineAmount"]))
    assert sum(D(str(i["TaxAmount"])) for i in items) == invoice.tax


def test_without_unitdp_xero_would_book_another_amount():
    """Why the requests say unitdp=4: 7.5 x 45.1875 is 338.91 for us and 338.93 for Xero at 2 decimals."""
    invoice = factories.invoice((factories.line(1, "x", "7.5", "45.1875"),))
    item = document_payload(invoice, "c-1", XeroOptions())["LineItems"][0]
    assert item["UnitAmount"] == 45.1875
    assert xero_line_amount(item["Quantity"], item["UnitAmount"]) == D("338.91") == invoice.lines[0].amount
    assert xero_line_amount(item["Quantity"], item["UnitAmount"], unit_places=2) == D("338.93")
