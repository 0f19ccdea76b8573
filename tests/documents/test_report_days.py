"""The timesheet report shows the days the invoice bills (issue 11, part 8): a week split at a
period end shows each part's days on that part's invoice; an older line without work_start
stands for its whole week, as before."""
import datetime as dt
from dataclasses import replace

from backoffice.model import LineCategory
from documents.render import timesheet_context
from tests.documents import factories

MON = factories.WEEK_END - dt.timedelta(days=6)     # Monday 9 Mar 2026


def _days(context):
    return [row["work_date"] for section in context["sections"] for row in section["rows"]]


def _invoice(*spans):
    """One REG line of P-100 per (work_start, work_date)."""
    lines = tuple(replace(factories.line(n, "Jane Doe - Regular hours", "8", "25.50"), work_start=start,
                          work_date=end) for n, (start, end) in enumerate(spans, start=1))
    return factories.invoice(lines)


def test_a_part_of_a_week_shows_only_its_own_days(registry, agency):
    tuesday, wednesday = MON + dt.timedelta(days=1), MON + dt.timedelta(days=2)
    first = timesheet_context([factories.temp_placement()], [factories.approval()], _invoice((MON, tuesday)),
                              registry.timesheet_report(), agency)
    second = timesheet_context([factories.temp_placement()], [factories.approval()],
                               _invoice((wednesday, factories.WEEK_END)), registry.timesheet_report(), agency)
    assert sorted(set(_days(first))) == ["03/09/2026", "03/10/2026"]
    assert sorted(set(_days(second))) == ["03/11/2026", "03/12/2026", "03/13/2026"]


def test_a_week_with_no_line_on_the_invoice_is_left_out_and_old_lines_keep_their_whole_week(registry, agency):
    earlier = replace(factories.approval(), timesheet_id="TS-earlier", week_ending=MON - dt.timedelta(days=1),
                      entries=tuple(replace(e, work_date=e.work_date - dt.timedelta(days=7))
                                    for e in factories.approval().entries))
    old_line = _invoice((None, factories.WEEK_END))
    context = timesheet_context([factories.temp_placement()], [earlier, factories.approval()], old_line,
                                registry.timesheet_report(), agency)
    assert len(context["sections"]) == 1
    assert sorted(set(_days(context))) == [f"03/{d:02d}/2026" for d in range(9, 14)]
    fee_only = factories.invoice((factories.line(1, "Badge", "1", "12.25", pay_code=None,
                                                 category=LineCategory.PRODUCTS_SERVICES),))
    assert timesheet_context([factories.temp_placement()], [factories.approval()], fee_only,
                             registry.timesheet_report(), agency)["sections"] == []
