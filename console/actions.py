"""Acting from the console: publish operator commands exactly as the CLI does (ops/commands.py),
wait for each outcome, then (read your writes, bounded) until the read model shows it, and say in
plain words what happened."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ops.commands import command_record, publish_many_and_wait
from readmodel import queries as q
from readmodel import freshness

#: The worker's finding codes, for a clerk.
PLAIN = {
    "NO_BILLTO": "no Billto account is assigned",
    "MISSING_BILL_RATE": "a bill rate is missing",
    "UNKNOWN_PLACEMENT": "the placement is unknown",
}


@dataclass
class Result:
    """What the console shows after an action: one line per command, findings, the new batch."""
    ok: bool
    lines: list[tuple[bool, str]] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    batch_id: str | None = None
    invoice_ids: list[str] = field(default_factory=list)
    stale: bool = False



class Actions:
    def __init__(self, bootstrap: str | None, engine, timeout: float, publish=None,
                 projector_group: str = "backoffice-projector") -> None:
        self.bootstrap, self.engine, self.timeout = bootstrap, engine, timeout
        self._publish, self.projector_group = publish, projector_group

    def request(self, tenant: str, kind: str, item: dict, label: str, note: str) -> Result:
        """Publish a command nobody answers on billing.outcomes (RESYNC: the connectors act on it and
        report on billing.sync); the result says it was sent, and where its effect will show."""
        record = command_record(tenant, kind, requested_by="console", **item)
        try:
            if self._publish:
                self._publish([record], 0)
            else:
                publish_many_and_wait(self.bootstrap, [record], 0)
        except Exception as exc:  # noqa: BLE001 - the broker's errors, shown instead of a 500
            return Result(False, [(False, f"{label}: could not be sent: {exc}")])
        return Result(True, [(True, f"{label}: requested. {note}")])

    def run(self, tenant: str, kind: str, items: list[dict], label: str = "") -> Result:
        """One command per item (fields of command_record); all published together."""
        if self._publish is None and not self.bootstrap:
            return Result(False, [(False, "No broker is configured (KAFKA_BOOTSTRAP_SERVERS).")])
        records = [command_record(tenant, kind, requested_by="console",
                                  **{k: v for k, v in item.items() if not k.startswith("_")}) for item in items]
        started = time.monotonic()
        try:
            outcomes = (self._publish(records, self.timeout) if self._publish
                        else publish_many_and_wait(self.bootstrap, records, self.timeout))
        except Exception as exc:  # noqa: BLE001 - the broker's errors, shown instead of a 500
            return Result(False, [(False, f"The command could not be sent: {exc}")])
        result = Result(ok=True)
        for record, item in zip(records, items):
            outcome = outcomes.get(record["command_id"])
            name = item.get("_label") or label or kind.replace("_", " ").title()
            if outcome is None:
                result.ok = False
                result.lines.append((False, f"{name}: no answer within {self.timeout:.0f} s. "
                                            f"Is a worker running? Look again in a moment."))
                continue
            result.ok &= outcome["ok"]
            result.lines.append((outcome["ok"], f"{name}: {'done' if outcome['ok'] else 'refused'}: "
                                                f"{outcome['message']}"))
            result.findings += [{**f, "plain": PLAIN.get(f["code"], "")} for f in outcome["findings"]]
            result.batch_id = outcome.get("batch_id") or result.batch_id
            result.invoice_ids += list(outcome.get("invoice_ids") or [])
            left = self.timeout - (time.monotonic() - started)
            voided = record["invoice_id"] if kind == "VOID" and outcome["ok"] else None
            result.stale |= not self.wait_read_model(record["command_id"], max(left, 1.0), voided)
        return result

    def wait_read_model(self, command_id: str, timeout: float, voided: str | None = None) -> bool:
        """Until the read model holds everything the shown topics held once the outcome came (the
        document's new status with it), the outcome, the invoices it names and (after a void) the
        lines freed; False when it has not within `timeout`. The CLI's and the API's wait
        (readmodel.freshness); without a broker (a publisher handed in), the outcome's alone."""
        if self._publish is None and self.bootstrap:
            try:
                freshness.wait_caught_up(self.engine, self.projector_group, self.bootstrap, timeout, command_id,
                                         released=voided)
                return True
            except freshness.NotCaughtUp:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = q.projected_outcome(self.engine, command_id)
            if done is not None and not done["missing_invoices"] and not (voided and q.invoiced_on(self.engine, voided)):
                return True
            time.sleep(0.2)
        return False
