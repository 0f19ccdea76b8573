"""The Generate Invoices health check (seed 000): errors block generation, warnings don't."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable, Mapping

from backoffice.billto import BilltoHierarchy, BilltoUnresolved
from backoffice.consolidation import currency_mismatch
from backoffice.model import Invoice, InvoicingMode, PayLine, Placement, PlacementStatus


class Severity(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    code: str
    message: str
    ref: str = ""


@dataclass(frozen=True, slots=True)
class HealthReport:
    findings: tuple[Finding, ...] = ()

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors

    def blocked_line_ids(self) -> set[str]:
        return {f.ref for f in self.errors}


def health_check(lines: Iterable[PayLine], placements: Mapping[str, Placement],
                 hierarchy: BilltoHierarchy, into: Invoice | None = None) -> HealthReport:
    """Findings for the lines a run would invoice; `into`: the New invoice a Consolidate adds them to.

    A line's currency is its Billto account's. A fresh draft holds one account's lines,
    so it has one currency by construction; only adding lines to an existing invoice
    (whose account changed currency since it was drawn) can mix them.
    """
    findings: list[Finding] = []
    warned: set[tuple[str, str]] = set()

    def warn_once(code: str, ref: str, message: str) -> None:
        if (code, ref) not in warned:
            warned.add((code, ref))
            findings.append(Finding(Severity.WARNING, code, message, ref))

    for line in lines:
        placement = placements.get(line.placement_id)
        if placement is None:
            findings.append(Finding(Severity.ERROR, "UNKNOWN_PLACEMENT",
                                    f"pay line {line.pay_line_id}: placement {line.placement_id} is unknown",
                                    line.pay_line_id))
            continue
        if line.pay_code is not None and line.source.value.startswith("TIMESHEET") and \
                placement.bill_rate(line.pay_code) is None:
            findings.append(Finding(Severity.ERROR, "MISSING_BILL_RATE",
                                    f"pay line {line.pay_line_id}: placement {placement.placement_id} has no "
                                    f"{line.pay_code.value} bill rate", line.pay_line_id))
        try:
            resolved = hierarchy.resolve(placement)
        except BilltoUnresolved as exc:
            findings.append(Finding(Severity.ERROR, "NO_BILLTO",
                                    f"pay line {line.pay_line_id}: no Billto ({exc.reason})", line.pay_line_id))
            continue
        mismatch = currency_mismatch(line, resolved, into) if into is not None else None
        if mismatch:
            findings.append(Finding(Severity.ERROR, "MIXED_CURRENCY", mismatch, line.pay_line_id))
        account = resolved.account
        if account.invoicing_mode is InvoicingMode.AUTOMATIC and (resolved.contact is None or not resolved.contact.email):
            warn_once("AP_CONTACT_NO_EMAIL", account.entity_id,
                      f"{account.account_name} is fully automatic but its AP contact has no email; "
                      f"its invoices cannot be emailed")
        if placement.status is PlacementStatus.CANCELLED:
            warn_once("CANCELLED_PLACEMENT_PENDING", placement.placement_id,
                      f"placement {placement.placement_id} is cancelled but still has pending pay lines")
    return HealthReport(tuple(findings))
