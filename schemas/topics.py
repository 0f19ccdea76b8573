"""Every external topic of the event contract, in one place.

ats.placements, ats.timesheets and ats.fees are co-partitioned (same key,
same partition count) so one worker owns a placement's whole history.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ATS_ACCOUNTS = "ats.accounts"
ATS_PLACEMENTS = "ats.placements"
ATS_TIMESHEETS = "ats.timesheets"
ATS_FEES = "ats.fees"
BILLING_COMMANDS = "billing.commands"
BILLING_INVOICES = "billing.invoices"
BILLING_SYNC = "billing.sync"
BILLING_OUTCOMES = "billing.outcomes"
BILLING_PAYLINES = "billing.paylines"

PLACEMENT_PARTITIONS = 8
DLQ_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitions: int
    cleanup_policy: str
    schema: str
    doc: str
    configs: dict[str, str] = field(default_factory=dict)

    def all_configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, **self.configs}


_INPUTS = [
    TopicSpec(ATS_ACCOUNTS, "tenant:entity_id", 4, "compact", "AccountUpserted",
              "Billto hierarchy entities (state: latest version per entity)."),
    TopicSpec(ATS_PLACEMENTS, "tenant:placement_id", PLACEMENT_PARTITIONS, "compact", "PlacementUpserted",
              "Placement upserts (state: latest version per placement)."),
    TopicSpec(ATS_TIMESHEETS, "tenant:placement_id", PLACEMENT_PARTITIONS, "delete", "TimesheetApproved",
              "Timesheet approvals and re-approvals."),
    TopicSpec(ATS_FEES, "tenant:placement_id", PLACEMENT_PARTITIONS, "delete", "FeeRealized",
              "Realized fees: placement fees, products, services."),
    TopicSpec(BILLING_COMMANDS, "tenant", 4, "delete", "OperatorCommand",
              "Operator and scheduler commands, idempotent by command id."),
]
_OUTPUTS = [
    TopicSpec(BILLING_INVOICES, "invoice_id", 8, "delete", "InvoiceEvent",
              "Invoices and credit memos: generated and every status change."),
    TopicSpec(BILLING_SYNC, "invoice_id", 4, "delete", "SyncResult", "AR/GL connector outcomes."),
    TopicSpec(BILLING_OUTCOMES, "command_id", 4, "delete", "CommandOutcome",
              "Results of operator commands (health-check findings included)."),
    TopicSpec(BILLING_PAYLINES, "pay_line_id", PLACEMENT_PARTITIONS, "compact", "PayLineEvent",
              "Every pay-line change (created, re-rated, snoozed, due, reserved, invoiced, released, voided, "
              "credited, removed): the newest event per key is the line's state."),
]
_DEAD_LETTERS = [
    TopicSpec(dead_letter_topic(t.name), "original key", 1, "delete", "DeadLetter",
              f"Messages from {t.name} that could not be processed, with the reason and the original bytes.")
    for t in _INPUTS + _OUTPUTS[:2]     # invoices and sync: the outputs the worker consumes itself
]

CONNECTORS = ("quickbooks", "xero", "export")


def connector_dead_letter_topic(connector: str) -> str:
    return dead_letter_topic(f"connector.{connector}")


_CONNECTOR_DEAD_LETTERS = [
    TopicSpec(connector_dead_letter_topic(c), "invoice_id", 1, "delete", "DeadLetter",
              f"Documents the {c} connector gave up on after its retry budget.")
    for c in CONNECTORS
]

TOPICS: dict[str, TopicSpec] = {t.name: t for t in _INPUTS + _OUTPUTS + _DEAD_LETTERS + _CONNECTOR_DEAD_LETTERS}

#: Which schema each input topic carries (the worker refuses anything else).
TOPIC_SCHEMA: dict[str, str] = {t.name: t.schema for t in TOPICS.values()}

