"""Invoice numbers: gapless per tenant, never reused. A batch starts at the operator's
first number, which defaults to one more than the last number issued (seed 000)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from backoffice.errors import NumberReused
from backoffice.model import DocumentKind, Invoice


@dataclass(frozen=True, slots=True)
class TenantSequence:
    tenant_id: str
    last_number: int = 0

    def next_number(self) -> int:
        return self.last_number + 1


def numbering_order(drafts: Sequence[Invoice]) -> list[Invoice]:
    """Invoices before credit memos, then by account name and grouping key: stable across replays."""
    return sorted(drafts, key=lambda d: (d.kind is DocumentKind.CREDIT_MEMO, d.account_name, d.account_id,
                                          d.grouping_key, d.invoice_id))


def number_invoices(drafts: Sequence[Invoice], sequence: TenantSequence, first_number: int | None = None
                    ) -> tuple[list[Invoice], TenantSequence]:
    start = sequence.next_number() if first_number is None else first_number
    if start <= sequence.last_number:
        raise NumberReused(f"first invoice number {start} was already issued for tenant {sequence.tenant_id} "
                           f"(last issued: {sequence.last_number})")
    numbered = [replace(d, number=str(start + i)) for i, d in enumerate(numbering_order(drafts))]
    last = start + len(numbered) - 1 if numbered else sequence.last_number
    return numbered, replace(sequence, last_number=last)
