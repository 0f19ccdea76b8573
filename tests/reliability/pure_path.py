"""The worker's pure path, message by message, without Faust: what each agent would store,
dead-letter or answer. The hostile corpus and the fuzzer drive it."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from backoffice.errors import DomainError
from infra.settings import load_settings
from schemas.bounds import decode_bounded
from schemas.codec import DecodeError
from schemas.mapping import InvalidEvent
from schemas.topics import ATS_ACCOUNTS, BILLING_COMMANDS
from workers.accounts_logic import account_node
from workers.command_logic import WINDOW_ACTIONS, CommandRefused, line_command, window_request
from workers.ledger_logic import Bounds, Parked, expire_parked, ingest, new_record

REFUSALS = (DecodeError, InvalidEvent, DomainError)


@dataclass
class PurePath:
    now: dt.datetime
    settings: object = field(default_factory=load_settings)
    ledgers: dict = field(default_factory=dict)
    accounts: dict = field(default_factory=dict)
    dead: list = field(default_factory=list)          # (topic, offset, error)
    refused: dict = field(default_factory=dict)       # command id -> reason
    offset: int = 0

    def __post_init__(self) -> None:
        self.bounds = Bounds(self.settings.sizes(), self.settings.limits())

    def feed(self, topic: str, key: bytes, value: bytes) -> None:
        self.offset += 1
        if topic == ATS_ACCOUNTS:
            try:
                node = account_node(value, key=key, sizes=self.bounds.sizes, limits=self.bounds.limits)
            except REFUSALS as exc:
                self.dead.append((topic, self.offset, exc))
                return
            self.accounts[f"{node.tenant_id}:{node.entity_id}"] = node
        elif topic == BILLING_COMMANDS:
            self.command(value, key)
        else:
            record = self.ledgers.get(key) or new_record(key.decode(errors="replace"))
            outcome = ingest(record, Parked(topic, 0, self.offset, key, value, self.now), self.now.date(),
                             self.bounds)
            if outcome.changed:
                self.ledgers[key] = outcome.record
            self.dead.extend((item.topic, item.offset, error) for item, error in outcome.dead)

    def command(self, value: bytes, key: bytes | None = None) -> None:
        try:
            cmd = decode_bounded(value, topic=BILLING_COMMANDS, key=key, limits=self.bounds.sizes).record
        except REFUSALS as exc:
            self.dead.append((BILLING_COMMANDS, self.offset, exc))
            return
        try:
            if cmd["command"] in WINDOW_ACTIONS:
                window_request(cmd, self.settings, self.now)
            elif cmd["command"] in ("SNOOZE", "UNSNOOZE", "CREATE_CREDIT_MEMO"):
                line_command(cmd, self.now.date(), self.bounds.limits)
        except CommandRefused as exc:
            self.refused[cmd["command_id"]] = str(exc)
        except (ArithmeticError, ValueError, TypeError, KeyError) as exc:     # agents_commands._pure
            self.refused[cmd["command_id"]] = f"{type(exc).__name__}: {exc}"

    def sweep(self, grace: dt.timedelta = dt.timedelta(0)) -> None:
        for key, record in list(self.ledgers.items()):
            aged = expire_parked(record, self.now, grace)
            if aged.changed:
                self.ledgers[key] = aged.record
            self.dead.extend((item.topic, item.offset, error) for item, error in aged.dead)

    def reasons(self) -> Counter:
        return Counter(type(error).__name__ for _, _, error in self.dead)
