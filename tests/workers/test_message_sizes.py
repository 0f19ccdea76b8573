"""Internal messages stay under the broker's 1 MiB whatever the accepted input (issue 12):
Settle messages are cut by measured size, and a placement's lines split over several
messages release the window's reservations only with the last of them (pure)."""
import datetime as dt
from decimal import Decimal

from backoffice.model import PayLine, PayLineSource, PayLineStatus, PayCode
from workers.messages import Settle
from workers.state import dumps
from workers.window_logic import split_assignments

BROKER_LIMIT = 1024 * 1024


def _line(pid: str, n: int) -> PayLine:
    """A line as large as accepted input allows: 1 KiB names and ids."""
    long = "x" * 1000
    return PayLine(tenant_id="t1", pay_line_id=f"t1:{pid}|TS|{long}{n}|REG", placement_id=pid,
                   source=PayLineSource.TIMESHEET, description=f"{long} - Regular hours", quantity=Decimal("40"),
                   rate=Decimal("31.50"), amount=Decimal("1260.00"), effective_date=dt.date(2026, 9, 13),
                   work_date=dt.date(2026, 9, 13), status=PayLineStatus.PENDING, pay_code=PayCode.REG,
                   timesheet_id=f"{long}{n}", timesheet_version=1, taxable=True)


def _assignments(placements: int, lines_each: int) -> dict:
    return {f"t1:p{p}": {line.pay_line_id: (line, "inv-1") for line in (_line(f"p{p}", n) for n in range(lines_each))}
            for p in range(placements)}


def _parts(assignments):
    return [part if isinstance(part, tuple) else (part, None) for part in split_assignments(assignments)]


def test_every_settle_message_fits_the_broker_and_carries_every_line_once():
    assignments = _assignments(placements=3, lines_each=600)           # ~1,800 lines of ~2 KiB each
    parts = _parts(assignments)
    for part, final in parts:
        size = len(dumps(Settle("WEEKLY:2026-09-13", "t1", part)))
        assert size < BROKER_LIMIT / 2, size
    carried = [(key, pay_line_id) for part, _ in parts for key, lines in part.items() for pay_line_id in lines]
    assert sorted(carried) == sorted((k, x) for k, lines in assignments.items() for x in lines)


def test_only_the_message_with_a_placements_last_lines_releases_it():
    assignments = _assignments(placements=2, lines_each=400)
    parts = _parts(assignments)
    assert len(parts) > 2
    for key in assignments:
        holding = [i for i, (part, _) in enumerate(parts) if key in part]
        finals = [i for i, (_, final) in enumerate(parts) if final is not None and key in final]
        assert finals == [holding[-1]], (key, holding, finals)


def test_a_placement_with_nothing_invoiced_still_settles_once():
    parts = _parts({"t1:q-empty": {}, **_assignments(1, 2)})
    holding = [(part, final) for part, final in parts if "t1:q-empty" in part]
    assert len(holding) == 1 and holding[0][0]["t1:q-empty"] == {}
    assert holding[0][1] is None or "t1:q-empty" in holding[0][1]
