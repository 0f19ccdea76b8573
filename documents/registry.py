"""Named document templates and which one a document gets (seed 003, Invoice Template).

A template is a folder under the templates root with a manifest (YAML or JSON),
an HTML file (Jinja2) and a stylesheet. Any number can exist; the registry loads
them all, keeps the broken ones as errors naming the template and the line, and
resolves defaults: explicit choice, then account default, then tenant default
(credit memos look at the credit-memo default first).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from backoffice.model import Invoice
from documents import formatting
from documents.assets import LogoError, check_logo

MANIFEST_NAMES = ("manifest.yaml", "manifest.yml", "manifest.json")
SHARED_LAYOUTS = "_layouts"
MESSAGE_LIMIT = 255
#: Rows per line-item table. This xhtml2pdf grows linearly (bench/pdf.py: 200 lines ~0.6 s either
#: way), so one table per invoice reads best; a template may lower it to bound a single table.
DEFAULT_ROWS_PER_TABLE = 500


class TemplateKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    TIMESHEET_REPORT = "timesheet_report"


_PARTY_FIELDS = ("company_name", "mailing_address", "phone", "email")

#: The configurable blocks of the standard layout and the fields each may show.
#: The title block (invoice number, created date, title) is system-defined and
#: always shown, as the seed says; logo, message and footers are not field sets.
BLOCK_FIELDS: dict[TemplateKind, dict[str, tuple[str, ...]]] = {
    TemplateKind.INVOICE: {
        "header": _PARTY_FIELDS,
        "bill_to": ("company_name", "contact_name", "mailing_address", "phone", "email"),
        "remit_to": _PARTY_FIELDS,
        "billing_details": (
            "company_name", "net_terms", "due_date", "invoice_period", "purchase_order", "currency", "account_id",
        ),
        "line_items": ("description", "work_date", "pay_code", "placement_id", "quantity", "rate", "amount"),
        "totals": ("subtotal", "total_tax", "total_amount"),
    },
    TemplateKind.TIMESHEET_REPORT: {
        "header": _PARTY_FIELDS,
        "placement": ("candidate_name", "job_title", "placement_id", "week_ending", "approver", "approved_at"),
        "entries": ("work_date", "day", "pay_code", "hours", "rate", "amount"),
    },
}
BLOCK_FIELDS[TemplateKind.CREDIT_MEMO] = BLOCK_FIELDS[TemplateKind.INVOICE]

#: What a block shows when the manifest does not say (the seed's field sets).
DEFAULT_FIELDS: dict[TemplateKind, dict[str, tuple[str, ...]]] = {
    TemplateKind.INVOICE: {
        "header": _PARTY_FIELDS,
        "bill_to": _PARTY_FIELDS,
        "remit_to": _PARTY_FIELDS,
        "billing_details": ("company_name", "net_terms", "due_date", "invoice_period"),
        "line_items": ("description", "quantity", "rate", "amount"),
        "totals": ("total_tax", "total_amount"),
    },
    TemplateKind.TIMESHEET_REPORT: {
        "header": ("company_name", "mailing_address"),
        "placement": ("candidate_name", "job_title", "week_ending", "approver"),
        "entries": ("work_date", "day", "pay_code", "hours", "rate", "amount"),
    },
}
DEFAULT_FIELDS[TemplateKind.CREDIT_MEMO] = DEFAULT_FIELDS[TemplateKind.INVOICE]


class TemplateError(Exception):
    """A template that cannot be loaded or rendered: which one, where, and why."""

    def __init__(self, name: str, line: int | None, message: str, file: str | None = None) -> None:
        where = f"{file or ''}{':' if file and line else ''}{line if line else ''}"
        super().__init__(f"template {name!r}{f' ({where})' if where else ''}: {message}")
        self.name = name
        self.line = line
        self.message = message
        self.file = file


@dataclass(frozen=True)
class DocumentTemplate:
    name: str
    kind: TemplateKind
    folder: Path
    html: str
    stylesheet: str
    fields: Mapping[str, tuple[str, ...]]
    message: str = ""
    footer_left: str = ""
    footer_right: str = ""
    logo: str | None = None
    rows_per_table: int = DEFAULT_ROWS_PER_TABLE
    jinja: jinja2.Template = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    css: str = field(repr=False, compare=False, default="")


@dataclass(frozen=True)
class TemplateDefaults:
    """Custom settings: tenant-wide invoice default, credit-memo and report defaults, per-account
    picks; `tenants` holds a tenant's own settings over these (each agency has its Invoice Setup)."""

    tenant: str | None = None
    credit_memo: str | None = None
    timesheet_report: str | None = None
    accounts: Mapping[str, str] = field(default_factory=dict)
    tenants: Mapping[str, TemplateDefaults] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TemplateDefaults:
        return cls(
            tenant=data.get("tenant"),
            credit_memo=data.get("credit_memo"),
            timesheet_report=data.get("timesheet_report"),
            accounts=dict(data.get("accounts") or {}),
            tenants={name: cls.from_dict(own or {}) for name, own in (data.get("tenants") or {}).items()},
        )

    def for_tenant(self, tenant_id: str | None) -> TemplateDefaults:
        """This tenant's settings: its own where it has them, the shared ones elsewhere."""
        own = self.tenants.get(tenant_id) if tenant_id else None
        if own is None:
            return self
        return TemplateDefaults(tenant=own.tenant or self.tenant, credit_memo=own.credit_memo or self.credit_memo,
                                timesheet_report=own.timesheet_report or self.timesheet_report,
                                accounts={**self.accounts, **own.accounts})


def make_environment(folder: Path, root: Path) -> jinja2.Environment:
    """Sandboxed, autoescaping, strict: a template sees its own folder and the shared layouts only."""
    search = [str(folder)]
    if (root / SHARED_LAYOUTS).is_dir():
        search.append(str(root / SHARED_LAYOUTS))
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(search),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.FILTERS)
    return env


def _read_manifest(folder: Path) -> tuple[Path, dict[str, Any]]:
    for candidate in MANIFEST_NAMES:
        path = folder / candidate
        if path.is_file():
            break
    else:
        raise TemplateError(folder.name, None, f"no manifest ({' or '.join(MANIFEST_NAMES)})")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(folder.name, exc.lineno, f"manifest is not valid JSON: {exc.msg}", path.name) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError(folder.name, line, f"manifest is not valid YAML: {problem}", path.name) from exc
    if not isinstance(data, dict):
        raise TemplateError(folder.name, 1, "manifest must be a mapping", path.name)
    return path, data


def _field_sets(name: str, kind: TemplateKind, raw: Any, manifest: str) -> dict[str, tuple[str, ...]]:
    allowed = BLOCK_FIELDS[kind]
    chosen = dict(DEFAULT_FIELDS[kind])
    if raw is None:
        return chosen
    if not isinstance(raw, dict):
        raise TemplateError(name, None, "fields must map block names to lists of fields", manifest)
    for block, fields in raw.items():
        if block not in allowed:
            raise TemplateError(name, None, f"unknown block {block!r} (known: {', '.join(allowed)})", manifest)
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise TemplateError(name, None, f"fields of block {block!r} must be a list of names", manifest)
        unknown = [f for f in fields if f not in allowed[block]]
        if unknown:
            raise TemplateError(
                name, None, f"block {block!r} has no field {unknown[0]!r} (allowed: {', '.join(allowed[block])})",
                manifest,
            )
        chosen[block] = tuple(fields)
    return chosen


def load_template(folder: Path, root: Path | None = None) -> DocumentTemplate:
    """Load and compile one template folder; raises TemplateError with the offending line."""
    folder = folder.resolve()
    root = (root or folder.parent).resolve()
    manifest_path, data = _read_manifest(folder)
    name = str(data.get("name") or folder.name)
    manifest = manifest_path.name
    try:
        kind = TemplateKind(data.get("kind", "invoice"))
    except ValueError:
        raise TemplateError(name, None, f"unknown kind {data.get('kind')!r}", manifest) from None
    for key in ("html", "stylesheet"):
        if not data.get(key):
            raise TemplateError(name, None, f"manifest needs {key!r}", manifest)
    files = {key: _inside(folder, str(data[key]), name, manifest) for key in ("html", "stylesheet")}
    logo = data.get("logo")
    if logo:
        try:
            check_logo(_inside(folder, str(logo), name, manifest))
        except LogoError as exc:
            raise TemplateError(name, None, str(exc), manifest) from exc
    message = str(data.get("message") or "")
    if len(message) > MESSAGE_LIMIT:
        raise TemplateError(name, None, f"message is {len(message)} characters, the limit is {MESSAGE_LIMIT}", manifest)
    rows = data.get("rows_per_table", DEFAULT_ROWS_PER_TABLE)
    if not isinstance(rows, int) or rows < 5:
        raise TemplateError(name, None, "rows_per_table must be an integer of at least 5", manifest)
    env = make_environment(folder, root)
    try:
        compiled = env.get_template(str(data["html"]))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(name, exc.lineno, exc.message or "syntax error", exc.name or str(data["html"])) from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(name, None, f"included template not found: {exc.name}", str(data["html"])) from exc
    return DocumentTemplate(
        name=name,
        kind=kind,
        folder=folder,
        html=str(data["html"]),
        stylesheet=str(data["stylesheet"]),
        fields=_field_sets(name, kind, data.get("fields"), manifest),
        message=message,
        footer_left=str(data.get("footer_left") or ""),
        footer_right=str(data.get("footer_right") or ""),
        logo=str(logo) if logo else None,
        rows_per_table=rows,
        jinja=compiled,
        css=files["stylesheet"].read_text(encoding="utf-8"),
    )


def _inside(folder: Path, relative: str, name: str, manifest: str) -> Path:
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        raise TemplateError(name, None, f"{relative!r} is outside the template folder", manifest)
    if not path.is_file():
        raise TemplateError(name, None, f"{relative!r} does not exist", manifest)
    return path


class TemplateRegistry:
    def __init__(
        self,
        templates: Iterable[DocumentTemplate] = (),
        *,
        errors: Mapping[str, TemplateError] | None = None,
        defaults: TemplateDefaults | None = None,
        root: Path | None = None,
    ) -> None:
        self._templates = {t.name: t for t in templates}
        self.errors: dict[str, TemplateError] = dict(errors or {})
        self.defaults = defaults or TemplateDefaults()
        self.root = root

    @classmethod
    def load(cls, root: Path | str, defaults: TemplateDefaults | None = None, *, strict: bool = False) -> TemplateRegistry:
        """Load every template folder under root; defaults come from root/defaults.yaml unless given."""
        root = Path(root).resolve()
        templates: list[DocumentTemplate] = []
        errors: dict[str, TemplateError] = {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
            if not any((folder / m).is_file() for m in MANIFEST_NAMES):
                continue  # e.g. templates/email: not a document template
            try:
                templates.append(load_template(folder, root))
            except TemplateError as exc:
                if strict:
                    raise
                errors[exc.name] = exc
        if defaults is None:
            defaults_file = root / "defaults.yaml"
            defaults = (
                TemplateDefaults.from_dict(yaml.safe_load(defaults_file.read_text(encoding="utf-8")) or {})
                if defaults_file.is_file() else TemplateDefaults()
            )
        return cls(templates, errors=errors, defaults=defaults, root=root)

    def names(self, kind: TemplateKind | None = None) -> list[str]:
        return sorted(n for n, t in self._templates.items() if kind is None or t.kind is kind)

    def get(self, name: str) -> DocumentTemplate:
        if name in self._templates:
            return self._templates[name]
        if name in self.errors:
            raise self.errors[name]
        raise TemplateError(name, None, f"no such template (known: {', '.join(self.names()) or 'none'})")

    def resolve(self, invoice: Invoice, *, explicit: str | None = None, account_default: str | None = None) -> DocumentTemplate:
        """The template for a document: explicit, else (credit memos) the credit-memo default, else account, else tenant."""
        defaults = self.defaults.for_tenant(invoice.tenant_id)
        candidates = [explicit]
        if invoice.is_credit_memo:
            candidates.append(defaults.credit_memo)
        candidates += [account_default, defaults.accounts.get(invoice.account_id), defaults.tenant]
        for name in candidates:
            if name:
                template = self.get(name)
                if template.kind is TemplateKind.TIMESHEET_REPORT:
                    raise TemplateError(name, None, "is a timesheet report template, not an invoice template")
                return template
        raise TemplateError("<default>", None, f"no template chosen and no default for {invoice.kind.value}")

    def timesheet_report(self, tenant_id: str | None = None) -> DocumentTemplate:
        name = self.defaults.for_tenant(tenant_id).timesheet_report
        if name:
            return self.get(name)
        reports = self.names(TemplateKind.TIMESHEET_REPORT)
        if not reports:
            raise TemplateError("<timesheet_report>", None, "no timesheet report template is installed")
        return self.get(reports[0])
