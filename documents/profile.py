"""The staffing agency's own identity, printed on every document it sends.

One profile per tenant: the Header block shows who the invoice is from, the
Remit To block where to pay (often a lockbox, so it may differ), and the logo
is an uploaded asset that the renderer validates before embedding.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backoffice.model import Address


@dataclass(frozen=True, slots=True)
class Party:
    """A name with a mailing address, phone and email: Header, Bill To and Remit To blocks."""

    name: str
    address: Address = field(default_factory=Address)
    phone: str | None = None
    email: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Party:
        address = data.get("address") or {}
        if not isinstance(address, Mapping):
            raise ValueError(f"address of {data.get('name')!r} must be a mapping")
        return cls(
            name=str(data["name"]),
            address=Address(**{k: str(v) for k, v in address.items()}),
            phone=data.get("phone"),
            email=data.get("email"),
        )


@dataclass(frozen=True, slots=True)
class AgencyProfile:
    tenant_id: str
    company: Party
    remit_to: Party | None = None
    logo: Path | None = None

    @property
    def remit(self) -> Party:
        """Remit To falls back to the company itself."""
        return self.remit_to or self.company

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgencyProfile:
        """Build from settings: {tenant_id, company: {...}, remit_to: {...}?, logo: path?}."""
        try:
            return cls(
                tenant_id=str(data["tenant_id"]),
                company=Party.from_dict(data["company"]),
                remit_to=Party.from_dict(data["remit_to"]) if data.get("remit_to") else None,
                logo=Path(data["logo"]) if data.get("logo") else None,
            )
        except KeyError as exc:
            raise ValueError(f"agency profile is missing {exc.args[0]!r}") from exc


def profiles_by_tenant(items: list[Mapping[str, Any]]) -> dict[str, AgencyProfile]:
    profiles = [AgencyProfile.from_dict(item) for item in items]
    return {p.tenant_id: p for p in profiles}


def load_profiles(path: Path) -> dict[str, AgencyProfile]:
    """A YAML/JSON file holding a list of profiles (or one profile); relative logo paths resolve beside it."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data if isinstance(data, list) else [data]
    resolved = []
    for item in items:
        if not isinstance(item, Mapping):
            raise ValueError(f"{path}: each agency profile must be a mapping")
        if item.get("logo") and not Path(item["logo"]).is_absolute():
            item = {**item, "logo": str(path.parent / item["logo"])}
        resolved.append(item)
    return profiles_by_tenant(resolved)
