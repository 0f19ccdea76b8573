"""Named domain errors. Each carries a reason an operator can act on; the workers
dead-letter the input errors and report the generation errors as findings."""
from __future__ import annotations


class DomainError(ValueError):
    code = "DOMAIN_ERROR"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidPayLineInput(DomainError):
    """An event that cannot become a pay line (e.g. negative hours)."""

    code = "INVALID_INPUT"


class UnknownPlacement(DomainError):
    code = "UNKNOWN_PLACEMENT"


class MissingBillRate(DomainError):
    code = "MISSING_BILL_RATE"


class PlacementCancelled(DomainError):
    code = "PLACEMENT_CANCELLED"


class IllegalPayLineTransition(DomainError):
    code = "ILLEGAL_TRANSITION"


class UnknownPayLine(DomainError):
    code = "UNKNOWN_PAY_LINE"


class AlreadyInvoiced(DomainError):
    """A line already on one invoice drawn onto another: settling refuses to bill it twice."""

    code = "ALREADY_INVOICED"


class CreditExceedsOriginal(DomainError):
    code = "CREDIT_EXCEEDS_ORIGINAL"


class NumberReused(DomainError):
    code = "NUMBER_REUSED"


class NotConsolidatable(DomainError):
    code = "NOT_CONSOLIDATABLE"


class MixedCurrency(NotConsolidatable):
    """Lines of one invoice in two currencies: that invoice cannot be drawn."""

    code = "MIXED_CURRENCY"


class UnrepresentableLine(DomainError):
    """A line a vendor cannot hold: its quantity x unit price in the vendor's decimals is not our amount."""

    code = "UNREPRESENTABLE_LINE"


class CreditExceedsOpenAmount(DomainError):
    """A credit memo allocating more to an invoice than is still open on it."""

    code = "CREDIT_EXCEEDS_OPEN_AMOUNT"


class ImplausibleInput(InvalidPayLineInput):
    """Input a careless or hostile upstream sent that no real agency bills (backoffice.limits)."""

    code = "IMPLAUSIBLE"


class ImplausibleHours(ImplausibleInput):
    code = "IMPLAUSIBLE_HOURS"


class ImplausibleAmount(ImplausibleInput):
    code = "IMPLAUSIBLE_AMOUNT"


class DateOutOfRange(ImplausibleInput):
    code = "DATE_OUT_OF_RANGE"


class ImplausibleTerms(ImplausibleInput):
    code = "IMPLAUSIBLE_TERMS"


class ConflictingDuplicate(DomainError):
    """Same source and version as an applied event, different content: neither is silently kept."""

    code = "CONFLICTING_DUPLICATE"
