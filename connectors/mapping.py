"""Per-tenant connector configuration: which of the company's own accounts, items and tax
codes our lines book to, read from the vendor at `backoffice connect` time and stored with
the tenant's tokens (connectors.tokens.FernetFileStore.save_mapping).

Nothing here is guessed: account and tax-code ids are per company (QBO's TAX/NON exist only
in US companies; account "1" is whatever the company made first), so a tenant whose mapping
lacks a setting is refused with MappingMissing, which names the setting and the command
that stores it. MappingMissing pauses the tenant like a lost grant (the runner re-reads the
store and resumes once the operator has run the command).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from connectors.base import NeedsReauthorization

# Xero's organisation date order, by the organisation's CountryCode (GET /Organisation): the
# CSV import reads dates in the organisation's regional format (US: month first).
MONTH_FIRST_COUNTRIES = frozenset({"US", "AS", "GU", "MP", "PR", "VI", "UM"})
DATE_FORMATS = {"DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y"}


class MappingMissing(NeedsReauthorization):
    """The tenant's connector configuration lacks a setting: nothing is booked until it is stored."""

    def __init__(self, system: str, tenant_id: str, setting: str, why: str = "", remedy: str = "") -> None:
        flag = "--" + setting.replace("_", "-")
        remedy = remedy or f"store it with `backoffice connect {system} --tenant {tenant_id} --reconfigure {flag} ...`"
        super().__init__(f"{system} connector for tenant {tenant_id}: setting '{setting}' is missing"
                         f"{' (' + why + ')' if why else ''}; {remedy}")
        self.setting = setting


@dataclass(frozen=True, slots=True)
class QboMapping:
    """Which of the QuickBooks company's own ids our documents use."""

    income_account: str             # Account.Id (AccountType Income) for the items we create
    taxable_tax_code: str           # TaxCode.Id (or TAX in a US company) on taxable lines
    exempt_tax_code: str            # TaxCode.Id (or NON in a US company) on exempt lines
    items: dict[str, str] = field(default_factory=dict)     # LineCategory value -> Item.Id (optional)

    REQUIRED = ("income_account", "taxable_tax_code", "exempt_tax_code")


@dataclass(frozen=True, slots=True)
class XeroMapping:
    """Which of the Xero organisation's account and tax type codes our documents use."""

    account_code: str               # Account.Code (revenue)
    taxable_tax_type: str           # TaxRate.TaxType on taxable lines
    exempt_tax_type: str            # TaxRate.TaxType on exempt lines
    date_format: str                # the organisation's regional date order: DD/MM/YYYY | MM/DD/YYYY

    REQUIRED = ("account_code", "taxable_tax_type", "exempt_tax_type", "date_format")


MAPPINGS: dict[str, type] = {"quickbooks": QboMapping, "xero": XeroMapping}


def mapping_from(system: str, tenant_id: str, data: dict[str, Any] | None) -> Any:
    """The stored mapping as its dataclass, or MappingMissing naming the first missing setting."""
    kind = MAPPINGS[system]
    data = data or {}
    for name in kind.REQUIRED:
        if not str(data.get(name) or "").strip():
            raise MappingMissing(system, tenant_id, name, "run the connect step to map the company's ids")
    if system == "xero" and data["date_format"] not in DATE_FORMATS:
        raise MappingMissing(system, tenant_id, "date_format", f"one of {', '.join(DATE_FORMATS)}")
    known = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in data.items() if k in known})


def as_dict(mapping: Any) -> dict[str, Any]:
    return asdict(mapping)


def date_format_for_country(country_code: str) -> str:
    return "MM/DD/YYYY" if country_code.upper() in MONTH_FIRST_COUNTRIES else "DD/MM/YYYY"
