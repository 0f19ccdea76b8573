"""List Batches' Pending list per account (seed 000; issue 16, part 6). The expectation is summed
here from the input lines and the account each placement was built under (no Billto resolution,
no figures module), by the seed's rule: timesheets and their adjustments are Timesheets, fees are
Products & Services."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from backoffice.billto import BilltoHierarchy
from backoffice.generation import pending_amounts, pending_by_account
from backoffice.model import EntityType, PayCode, PayLine, PayLineSource
from tests.domain.factories import node, placement

ACCOUNTS = {"a1": "Acme", "a2": "Bolt", "a3": "Crane"}        # client id -> Account Name
DAY = dt.date(2026, 11, 22)


def _hierarchy() -> BilltoHierarchy:
    nodes = [node("co")] + [node(cid, EntityType.CLIENT, "co", name=name) for cid, name in ACCOUNTS.items()]
    nodes.append(node("nameless", EntityType.CLIENT, "co"))          # no Account Name anywhere: unresolved
    return BilltoHierarchy(nodes)


lines_spec = st.lists(st.tuples(st.sampled_from([*ACCOUNTS, "nameless", "ghost"]),
                                st.sampled_from([PayLineSource.TIMESHEET, PayLineSource.TIMESHEET_ADJUSTMENT,
                                                 PayLineSource.FEE]),
                                st.integers(-50_000, 5_000_000)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(spec=lines_spec)
def test_pending_per_account_matches_the_lines(spec):
    placements, lines = {}, []
    expected: dict[str | None, list[Decimal]] = defaultdict(lambda: [Decimal("0.00"), Decimal("0.00"), 0])
    for n, (client, source, cents) in enumerate(spec):
        pid = f"p-{client}"
        if client != "ghost":                                       # "ghost": a line whose placement is unknown
            placements[pid] = _placement(pid, client)
        amount = Decimal(cents) / 100
        lines.append(PayLine("t1", f"t1:{pid}|{n}", pid, source, "x", Decimal(1), amount, amount, DAY, DAY,
                             pay_code=PayCode.REG if source is not PayLineSource.FEE else None,
                             fee_id="f" if source is PayLineSource.FEE else None))
        account = client if client in ACCOUNTS else None
        bucket = expected[account]
        bucket[0 if source is not PayLineSource.FEE else 1] += amount
        bucket[2] += 1
    rows = pending_by_account(lines, placements, _hierarchy())
    got = {r.account_id: [r.timesheets, r.products_services, r.pay_lines] for r in rows}
    assert got == dict(expected)
    assert {r.account_id: r.account_name for r in rows if r.account_id} == {a: ACCOUNTS[a] for a in got if a}
    assert [r.account_name for r in rows if r.account_id] == sorted(r.account_name for r in rows if r.account_id)
    assert all(r.account_id is not None for r in rows[:-1])         # the unresolved row, if any, comes last
    # a second output: the tenant-wide Pending row is the sum of the accounts'
    total = pending_amounts(lines)
    assert sum((r.timesheets for r in rows), Decimal(0)) == total["TIMESHEETS"]
    assert sum((r.products_services for r in rows), Decimal(0)) == total["PRODUCTS_SERVICES"]


def _placement(pid: str, client: str):
    from dataclasses import replace

    return replace(placement(pid, office=None), client_id=client)
