from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import _load_commands, cli
from documents.serialize import approval_from_dict, invoice_from_dict, placement_from_dict, to_dict
from tests.documents import factories
from tests.documents.pdfs import pdf_text


def test_json_round_trip_of_model_objects():
    for value, load in ((factories.invoice(), invoice_from_dict), (factories.credit_memo(), invoice_from_dict),
                        (factories.temp_placement(), placement_from_dict), (factories.approval(), approval_from_dict)):
        assert load(json.loads(json.dumps(to_dict(value)))) == value


def test_json_refuses_float_amounts_and_unknown_fields():
    data = to_dict(factories.invoice())
    import pytest

    with pytest.raises(ValueError, match="floats"):
        invoice_from_dict({**data, "total": 12.5})
    with pytest.raises(ValueError, match="unknown field"):
        invoice_from_dict({**data, "colour": "red"})


def test_render_command_writes_batch_pdfs(tmp_path):
    _load_commands()
    invoices = [to_dict(factories.invoice()), to_dict(factories.credit_memo())]
    (tmp_path / "invoices.json").write_text(json.dumps(invoices))
    (tmp_path / "ts.json").write_text(json.dumps({"placements": [to_dict(factories.temp_placement())],
                                                  "approvals": [to_dict(factories.approval())]}))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["render", str(tmp_path / "invoices.json"), "--timesheets",
                                      str(tmp_path / "ts.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.pdf"))
    assert written == ["B-1/CM-2001.pdf", "B-1/INV-1001-timesheets.pdf", "B-1/INV-1001.pdf"]
    assert str(out / "B-1" / "INV-1001.pdf") in result.output
    assert "Credit Memo" in pdf_text((out / "B-1" / "CM-2001.pdf").read_bytes())
    assert "Maria Manager" in pdf_text((out / "B-1" / "INV-1001-timesheets.pdf").read_bytes())

    bad = CliRunner().invoke(cli, ["render", str(tmp_path / "invoices.json"), "--template", "nope", "-o", str(out)])
    assert bad.exit_code != 0 and "no such template" in bad.output
