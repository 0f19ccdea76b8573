"""Domain objects pickled before a field was added still load (Faust tables hold pickles)."""
import datetime as dt
import pickle

from backoffice.model import CreditMemoRequest
from tests.domain.factories import D


def test_a_pickle_without_the_newer_trailing_field_loads_with_its_default():
    req = CreditMemoRequest("t1", "c1", "p1", D("10"), "goodwill", dt.date(2026, 11, 24), taxable=False)
    assert pickle.loads(pickle.dumps(req)) == req
    older = CreditMemoRequest.__getstate__(req)[:-1]        # the state as written before `taxable` existed
    blank = CreditMemoRequest.__new__(CreditMemoRequest)
    blank.__setstate__(older)
    assert blank.taxable is None and blank.reason == "goodwill"


# A PayLine pickled (protocol 5, as workers/state.py writes) by the class as it was before `work_start`
# was added: an invoiced REG line of t1:p1, timesheet ts1 v2, 40h x 40.00, week ending 2025-10-05.
OLD_PAYLINE = bytes.fromhex(
    "80059556010000000000008c106261636b6f66666963652e6d6f64656c948c075061794c696e65949394298194288c027431948c1074"
    "313a70317c54537c7473317c524547948c0270319468008c0d5061794c696e65536f757263659493948c0954494d4553484545549485"
    "9452948c30417661204368656e202d20526567756c617220686f7572732c207765656b20656e64696e672031302f30352f3230323594"
    "8c07646563696d616c948c07446563696d616c9493948c0234309485945294680f8c0534302e30309485945294680f8c07313630302e"
    "303094859452948c086461746574696d65948c0464617465949394430407e90a059485945294681b430407e90a0594859452948868008c"
    "0d5061794c696e655374617475739493948c08494e564f49434544948594529468008c07506179436f64659493948c03524547948594"
    "52948c03747331944b024e4e4e4e4e4e8c05696e762d31947494622e")


def test_a_payline_pickled_before_work_start_existed_loads_with_work_start_none():
    from backoffice.model import PayCode, PayLine, PayLineSource, PayLineStatus

    line = pickle.loads(OLD_PAYLINE)
    assert line == PayLine("t1", "t1:p1|TS|ts1|REG", "p1", PayLineSource.TIMESHEET,
                           "Ava Chen - Regular hours, week ending 10/05/2025", D("40"), D("40.00"), D("1600.00"),
                           dt.date(2025, 10, 5), dt.date(2025, 10, 5), True, PayLineStatus.INVOICED, PayCode.REG,
                           "ts1", 2, invoice_id="inv-1")
    assert line.work_start is None and line.invoice_id == "inv-1"
    assert pickle.loads(pickle.dumps(line, protocol=5)) == line


# An InvoiceLine (kept inside pickled invoices) pickled by the class before `work_start` was added.
OLD_INVOICE_LINE = bytes.fromhex(
    "80059525010000000000008c106261636b6f66666963652e6d6f64656c948c0b496e766f6963654c696e65949394298194288c046c69"
    "2d31948c1074313a70317c54537c7473317c524547948c027031948c30417661204368656e202d20526567756c617220686f7572732c"
    "207765656b20656e64696e672031302f30352f32303235948c07646563696d616c948c07446563696d616c9493948c02343094859452"
    "94680a8c0534302e30309485945294680a8c07313630302e303094859452948868008c0c4c696e6543617465676f72799493948c0a54"
    "494d45534845455453948594529468008c0e4c696e654974656d5374617475739493948c034e455794859452948c03524547948c0864"
    "61746574696d65948c0464617465949394430407e90a0594859452944e4e7494622e")


def test_an_invoice_line_pickled_before_work_start_existed_loads_with_work_start_none():
    from backoffice.model import InvoiceLine, LineCategory

    line = pickle.loads(OLD_INVOICE_LINE)
    assert line == InvoiceLine("li-1", "t1:p1|TS|ts1|REG", "p1", "Ava Chen - Regular hours, week ending 10/05/2025",
                               D("40"), D("40.00"), D("1600.00"), True, LineCategory.TIMESHEETS, pay_code="REG",
                               work_date=dt.date(2025, 10, 5))
    assert line.work_start is None and line.credited_invoice_id is None
