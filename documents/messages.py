"""Email subject and body templates (templates/email/NAME.subject.txt and NAME.body.txt).

Plain text, so no HTML escaping; sandboxed and strict so a typo fails loudly
instead of mailing a client a blank. The subject is flattened to one line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from backoffice.figures import printed_figures
from backoffice.model import Invoice
from documents import formatting
from documents.profile import AgencyProfile
from documents.registry import TemplateError


@dataclass(frozen=True, slots=True)
class EmailText:
    subject: str
    body: str


class EmailTemplates:
    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(self.folder)), autoescape=False, undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self.env.filters.update(formatting.FILTERS)

    def names(self) -> list[str]:
        return sorted(p.name.removesuffix(".subject.txt") for p in self.folder.glob("*.subject.txt"))

    def default_for(self, invoice: Invoice) -> str:
        return "credit_memo" if invoice.is_credit_memo and "credit_memo" in self.names() else "invoice"

    def render(self, name: str, invoice: Invoice, agency: AgencyProfile, **extra: Any) -> EmailText:
        context = {
            "invoice": invoice,
            "title": "Credit Memo" if invoice.is_credit_memo else "Invoice",
            "number": invoice.number or invoice.invoice_id,
            "figures": printed_figures(invoice),     # the amounts it states, as the PDF prints them
            "agency": agency.company,
            "remit_to": agency.remit,
            "contact": invoice.bill_to_contact,
            **extra,
        }
        parts = []
        for part in ("subject", "body"):
            filename = f"{name}.{part}.txt"
            try:
                parts.append(self.env.get_template(filename).render(context))
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"email/{name}", exc.lineno, exc.message or "syntax error", filename) from exc
            except jinja2.TemplateNotFound:
                raise TemplateError(f"email/{name}", None, f"{filename} not found in {self.folder}") from None
            except jinja2.TemplateError as exc:
                raise TemplateError(f"email/{name}", None, str(exc), filename) from exc
        return EmailText(subject=" ".join(parts[0].split()), body=parts[1])
