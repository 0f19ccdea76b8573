"""Billto resolution (seed 000): the lowest node of Company -> Client -> Office that
has an Account Name is the Billto. The AP contact comes from the placement's
override, else the Billto node, else up the hierarchy. Resolved at generation
time, so an Account Name set later applies to lines still pending."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from backoffice.model import BilltoNode, Contact, Placement


@dataclass(frozen=True, slots=True)
class ResolvedBillto:
    account: BilltoNode
    contact: Contact | None
    path: tuple[str, ...]   # entity ids from the placement's lowest node up to the company


class BilltoUnresolved(LookupError):
    def __init__(self, placement: Placement, reason: str) -> None:
        super().__init__(f"placement {placement.placement_id}: {reason}")
        self.placement_id = placement.placement_id
        self.reason = reason


class BilltoHierarchy:
    """The entities of one tenant, by entity id."""

    def __init__(self, nodes: Mapping[str, BilltoNode] | Iterable[BilltoNode]) -> None:
        if isinstance(nodes, Mapping):
            self.nodes = dict(nodes)
        else:
            self.nodes = {n.entity_id: n for n in nodes}
        self._cache: dict[tuple, ResolvedBillto] = {}

    def _chain(self, placement: Placement) -> list[BilltoNode]:
        """The placement's nodes, lowest first, following parents up to the company."""
        start = placement.office_id or placement.client_id or placement.company_id
        chain, seen = [], set()
        node_id = start
        while node_id is not None:
            if node_id in seen:
                raise BilltoUnresolved(placement, f"cycle in the Billto hierarchy at {node_id}")
            seen.add(node_id)
            node = self.nodes.get(node_id)
            if node is None:
                raise BilltoUnresolved(placement, f"entity {node_id} is unknown")
            chain.append(node)
            node_id = node.parent_id
        return chain

    def resolve(self, placement: Placement) -> ResolvedBillto:
        key = (placement.office_id, placement.client_id, placement.company_id, placement.ap_contact_override)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        chain = self._chain(placement)
        for index, node in enumerate(chain):
            if node.account_name:
                contact = placement.ap_contact_override
                if contact is None:
                    contact = next((n.ap_contact for n in chain[index:] if n.ap_contact is not None), None)
                resolved = ResolvedBillto(node, contact, tuple(n.entity_id for n in chain))
                self._cache[key] = resolved
                return resolved
        raise BilltoUnresolved(placement, "no Account Name on its office, client or company")
