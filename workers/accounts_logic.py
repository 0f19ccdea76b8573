"""What the accounts agent does with one ats.accounts message, without Faust."""
from __future__ import annotations

from backoffice import limits as bounds
from backoffice.limits import check_billto
from backoffice.model import BilltoNode
from schemas.bounds import DEFAULT_SIZES, SizeLimits, decode_bounded
from schemas.mapping import account_from_record
from schemas.topics import ATS_ACCOUNTS


def account_node(value: bytes | None, *, key: bytes | None = None, partition: int | None = None,
                 offset: int | None = None, sizes: SizeLimits = DEFAULT_SIZES,
                 limits: bounds.Limits = bounds.DEFAULT) -> BilltoNode:
    """Measure, decode, map and check one Billto entity; raises DecodeError, InvalidEvent or
    DomainError (each a dead letter with its name as the reason)."""
    node = account_from_record(decode_bounded(value, topic=ATS_ACCOUNTS, key=key, partition=partition,
                                              offset=offset, limits=sizes).record)
    check_billto(node, limits)
    return node
