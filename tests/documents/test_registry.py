"""Loading, failing loudly with name and line, and choosing defaults."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from documents.registry import TemplateDefaults, TemplateError, TemplateKind, TemplateRegistry, load_template
from documents.render import render_document
from tests.documents import factories


def test_loads_the_shipped_templates(registry):
    assert registry.names(TemplateKind.INVOICE) == ["standard_invoice"]
    assert registry.names(TemplateKind.CREDIT_MEMO) == ["standard_credit_memo"]
    assert registry.timesheet_report().name == "timesheet_report"
    assert registry.get("standard_invoice").fields["line_items"] == ("description", "quantity", "rate", "amount")


def test_defaults_resolution(template_root):
    registry = TemplateRegistry.load(
        template_root,
        TemplateDefaults(tenant="standard_invoice", credit_memo="standard_credit_memo",
                         accounts={"ACC-9": "standard_credit_memo"}),
    )
    invoice = factories.invoice()
    memo = factories.credit_memo()
    assert registry.resolve(invoice).name == "standard_invoice"  # tenant default
    assert registry.resolve(invoice, account_default="standard_credit_memo").name == "standard_credit_memo"
    assert registry.resolve(replace(invoice, account_id="ACC-9")).name == "standard_credit_memo"
    assert registry.resolve(memo, account_default="standard_invoice").name == "standard_credit_memo"
    assert registry.resolve(memo, explicit="standard_invoice").name == "standard_invoice"
    with pytest.raises(TemplateError, match="timesheet report"):
        registry.resolve(invoice, explicit="timesheet_report")
    with pytest.raises(TemplateError, match="no such template"):
        registry.resolve(invoice, explicit="fancy")
    with pytest.raises(TemplateError, match="no default"):
        TemplateRegistry.load(template_root, TemplateDefaults()).resolve(invoice)


def test_each_tenant_has_its_own_defaults_over_the_shared_ones(template_root):
    defaults = TemplateDefaults.from_dict({
        "tenant": "standard_invoice", "credit_memo": "standard_credit_memo",
        "tenants": {"agency-b": {"accounts": {"ACC-7": "standard_credit_memo"}},
                    "agency-c": {"tenant": "standard_credit_memo"}}})
    registry = TemplateRegistry.load(template_root, defaults)
    invoice = factories.invoice()
    assert invoice.tenant_id not in ("agency-b", "agency-c")
    assert registry.resolve(invoice).name == "standard_invoice"                               # shared default
    assert registry.resolve(replace(invoice, tenant_id="agency-c")).name == "standard_credit_memo"   # its own
    b = replace(invoice, tenant_id="agency-b")
    assert registry.resolve(replace(b, account_id="ACC-7")).name == "standard_credit_memo"   # its account's pick
    assert registry.resolve(b).name == "standard_invoice"                                     # else the shared one
    assert registry.resolve(replace(invoice, account_id="ACC-7")).name == "standard_invoice"  # not another's pick
    assert registry.timesheet_report("agency-b").name == "timesheet_report"


def test_a_new_template_is_just_a_folder(template_root, agency):
    folder = template_root / "perm_placement"
    folder.mkdir()
    (folder / "perm.css").write_text("body { font-family: Helvetica; }")
    (folder / "perm.html").write_text(
        "<html><body><h1>{{ document.title }} {{ document.number }}</h1>"
        "{% for rows in tables %}{% for r in rows %}<p>{{ r.description }}: {{ r.amount }}</p>{% endfor %}{% endfor %}"
        "<p>{{ message }}</p></body></html>"
    )
    (folder / "manifest.json").write_text(json.dumps({
        "kind": "invoice", "html": "perm.html", "stylesheet": "perm.css", "message": "Perm fees are due on start.",
    }))
    registry = TemplateRegistry.load(template_root, strict=True)
    assert "perm_placement" in registry.names(TemplateKind.INVOICE)
    from tests.documents.pdfs import pdf_text

    text = pdf_text(render_document(factories.invoice(), registry.get("perm_placement"), agency))
    assert "Invoice INV-1001" in text and "Placement fee - John Smith, Senior Accountant: 18,500.00" in text
    assert "Perm fees are due on start." in text


def _broken(template_root, manifest: str | None = None, html: str | None = None, name="standard_invoice"):
    folder = template_root / name
    if manifest is not None:
        (folder / "manifest.yaml").write_text(manifest)
    if html is not None:
        (folder / "invoice.html").write_text(html)
    return folder


def test_yaml_error_names_template_and_line(template_root):
    folder = _broken(template_root, manifest="name: standard_invoice\nkind: invoice\nhtml: [invoice.html\n")
    with pytest.raises(TemplateError) as info:
        load_template(folder, template_root)
    assert info.value.name == "standard_invoice" and info.value.line == 4 and "YAML" in info.value.message


def test_jinja_syntax_error_names_template_and_line(template_root):
    folder = _broken(template_root, html='{% extends "standard.html" %}\n\n{% block title %}{{ document.title }\n')
    with pytest.raises(TemplateError) as info:
        load_template(folder, template_root)
    assert info.value.name == "standard_invoice" and info.value.line == 3
    assert "standard_invoice" in str(info.value) and ":3" in str(info.value)


def test_render_error_names_line_and_returns_no_pdf(template_root, agency):
    folder = _broken(
        template_root, html='{% extends "standard.html" %}\n{% block title %}\n{{ document.no_such_field }}\n{% endblock %}\n'
    )
    template = load_template(folder, template_root)
    with pytest.raises(TemplateError) as info:
        render_document(factories.invoice(), template, agency)
    assert info.value.name == "standard_invoice" and info.value.line == 3 and "no_such_field" in info.value.message


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        ("kind: invoice\nhtml: invoice.html\nstylesheet: invoice.css\nfields: {line_items: [description, colour]}\n",
         "no field 'colour'"),
        ("kind: invoice\nhtml: invoice.html\nstylesheet: invoice.css\nfields: {sidebar: [x]}\n", "unknown block"),
        ("kind: invoice\nhtml: invoice.html\nstylesheet: invoice.css\nmessage: " + "x" * 256 + "\n", "255"),
        ("kind: receipt\nhtml: invoice.html\nstylesheet: invoice.css\n", "unknown kind"),
        ("kind: invoice\nhtml: ../timesheet_report/report.html\nstylesheet: invoice.css\n", "outside"),
        ("kind: invoice\nstylesheet: invoice.css\n", "needs 'html'"),
    ],
)
def test_manifest_mistakes_are_reported(template_root, manifest, fragment):
    folder = _broken(template_root, manifest=manifest)
    with pytest.raises(TemplateError, match=fragment):
        load_template(folder, template_root)


def test_a_broken_template_does_not_hide_the_others(template_root):
    _broken(template_root, manifest="kind: invoice\nhtml: invoice.html\nstylesheet: invoice.css\n"
                                    "fields: {totals: [grand_total]}\n")
    registry = TemplateRegistry.load(template_root)
    assert "standard_credit_memo" in registry.names()
    with pytest.raises(TemplateError, match="grand_total"):
        registry.get("standard_invoice")
    with pytest.raises(TemplateError):
        TemplateRegistry.load(template_root, strict=True)


def test_a_template_logo_must_be_a_small_real_image(template_root):
    (template_root / "standard_invoice" / "logo.png").write_text("<svg onload=alert(1)></svg>")
    with pytest.raises(TemplateError, match="not a readable image"):
        load_template(template_root / "standard_invoice", template_root)
