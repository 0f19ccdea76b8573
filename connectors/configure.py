"""`backoffice connect`'s mapping step: read the company's own accounts, items and tax codes
through the vendor API, check the operator's choices against them, and return the mapping
to store with the tenant's tokens (connectors.mapping). Nothing is defaulted: a choice the
operator did not make is a SettingNeeded naming it and listing the company's options.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.mapping import DATE_FORMATS, as_dict, date_format_for_country, mapping_from


class SettingNeeded(ValueError):
    def __init__(self, setting: str, options: dict[str, str]) -> None:
        listed = "; ".join(f"{k} = {v}" for k, v in list(options.items())[:40]) or "none found"
        super().__init__(f"setting '{setting}' is needed (--{setting.replace('_', '-')}); the company has: {listed}")
        self.setting, self.options = setting, options


@dataclass
class CompanyChoices:
    """What the company offers, id -> label, per setting."""

    options: dict[str, dict[str, str]] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)      # read, not chosen (e.g. date format)


async def qbo_choices(http) -> CompanyChoices:
    """Income accounts, tax codes, items and the custom-transaction-number preference of a QBO company."""
    async def rows(entity: str) -> list[dict]:
        body = await http.call("GET", "/query", params={"query": f"select * from {entity}"})
        return (body or {}).get("QueryResponse", {}).get(entity, [])

    accounts = {a["Id"]: a.get("Name", "") for a in await rows("Account") if a.get("AccountType") == "Income"}
    codes = {c["Id"]: c.get("Name", "") for c in await rows("TaxCode")}
    items = {i["Id"]: i.get("Name", "") for i in await rows("Item")}
    prefs = ((await rows("Preferences")) or [{}])[0]
    return CompanyChoices(
        {"income_account": accounts, "taxable_tax_code": codes, "exempt_tax_code": codes,
         "item_timesheets": items, "item_products_services": items},
        {"custom_txn_numbers": bool((prefs.get("SalesFormsPrefs") or {}).get("CustomTxnNumbers"))})


async def xero_choices(http) -> CompanyChoices:
    """Revenue accounts, tax types and the organisation's date format of a Xero organisation."""
    accounts = (await http.call("GET", "/Accounts")) or {}
    rates = (await http.call("GET", "/TaxRates")) or {}
    orgs = ((await http.call("GET", "/Organisation")) or {}).get("Organisations") or [{}]
    return CompanyChoices(
        {"account_code": {a["Code"]: a.get("Name", "") for a in accounts.get("Accounts", [])
                          if a.get("Type") in ("REVENUE", "SALES") and a.get("Code")},
         "taxable_tax_type": {t["TaxType"]: t.get("Name", "") for t in rates.get("TaxRates", [])},
         "exempt_tax_type": {t["TaxType"]: t.get("Name", "") for t in rates.get("TaxRates", [])},
         "date_format": {k: k for k in DATE_FORMATS}},
        {"date_format": date_format_for_country(str(orgs[0].get("CountryCode") or ""))})


def resolve(system: str, tenant_id: str, choices: CompanyChoices, given: dict[str, str | None]) -> dict[str, Any]:
    """The mapping from the operator's choices, each checked against the company's options."""
    mapping: dict[str, Any] = {}
    items: dict[str, str] = {}
    for setting, options in choices.options.items():
        value = given.get(setting) or choices.derived.get(setting)
        optional = setting.startswith("item_")
        if not value:
            if optional:
                continue
            raise SettingNeeded(setting, options)
        if value not in options:
            raise SettingNeeded(setting, options)
        if optional:
            items[setting.removeprefix("item_").upper()] = value
        else:
            mapping[setting] = value
    if items:
        mapping["items"] = items
    return as_dict(mapping_from(system, tenant_id, mapping))
