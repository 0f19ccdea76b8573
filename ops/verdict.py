"""Consumer-group verdicts in the spirit of Burrow's evaluation rules (pure).

Each partition keeps a sliding window of the last N samples (committed offset, lag).
Over a full window:
- STOP:  the committed offset never moved, lag > 0 in every sample, and the group has
         no consumers (EMPTY/DEAD): nobody is reading.
- STALL: the committed offset never moved, lag > 0 in every sample, and consumers are
         present: someone holds the partition but makes no progress.
- WARN:  the committed offset moves but lag grew in every step of the window: the
         consumer is falling behind.
- OK:    anything else (including lag 0 at the latest sample).
A group is ERR when any partition is STOP or STALL, WARN when any is WARN, else OK.
With fewer than N samples a partition is judged on what there is, never worse than WARN,
so a fresh `lag --watch` does not cry wolf.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Sequence


class PartitionStatus(str, Enum):
    OK = "OK"
    WARN = "WARN"
    STALL = "STALL"
    STOP = "STOP"


class GroupStatus(str, Enum):
    OK = "OK"
    WARN = "WARN"
    ERR = "ERR"


@dataclass(frozen=True, slots=True)
class Sample:
    committed: int          # -1 when the group never committed on the partition
    lag: int


def partition_status(window: Sequence[Sample], consumers_present: bool, full_window: int) -> PartitionStatus:
    if not window or window[-1].lag == 0:
        return PartitionStatus.OK
    full = len(window) >= full_window
    stuck = len({s.committed for s in window}) == 1 and all(s.lag > 0 for s in window)
    if stuck and full and len(window) > 1:
        return PartitionStatus.STALL if consumers_present else PartitionStatus.STOP
    growing = len(window) > 1 and all(b.lag > a.lag for a, b in zip(window, window[1:]))
    if growing or (stuck and len(window) > 1):
        return PartitionStatus.WARN
    return PartitionStatus.OK


def group_status(statuses: Iterable[PartitionStatus]) -> GroupStatus:
    found = set(statuses)
    if found & {PartitionStatus.STOP, PartitionStatus.STALL}:
        return GroupStatus.ERR
    if PartitionStatus.WARN in found:
        return GroupStatus.WARN
    return GroupStatus.OK
