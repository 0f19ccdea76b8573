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
