"""Local state must belong to the broker it meets.

A worker keeps state on its disk that only makes sense next to the broker it came from: Faust
tables (RocksDB files whose offsets point into changelog topics) and the sent log (which
invoices were emailed). The embedded broker is memory-only: after it restarts, those topics are
gone, and a worker that carried on would run on half a memory (tables ahead of their changelogs,
invoice ids of a new run found "already sent").

So a worker records, in a marker file in its state directory, the broker's cluster id and the
topic ids of its changelog topics once it runs, and before it starts again it checks that local
state, if any, still has them. If not it refuses, naming the reset flag
(`backoffice worker --reset-local-state` / BACKOFFICE_RESET_LOCAL_STATE=1), which moves the
state aside (never deletes it) and starts clean.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient

MARKER = "broker.json"
log = logging.getLogger(__name__)


class LocalStateMismatch(RuntimeError):
    """Local state from another broker (or from topics that were deleted since)."""


@dataclass(frozen=True)
class BrokerIdentity:
    cluster_id: str | None
    topic_ids: dict[str, str | None]       # topic -> its id; None: the topic does not exist

    def to_json(self) -> dict:
        return {"cluster_id": self.cluster_id, "topic_ids": self.topic_ids}


def broker_identity(bootstrap: str, topics: list[str], timeout: float = 10.0) -> BrokerIdentity:
    """The cluster id and the ids of `topics` (None for a missing one). Tansu names every cluster
    alike, so the topic ids are what tells one broker's topics from another's."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    metadata = admin.list_topics(timeout=timeout)
    present = [t for t in topics if t in metadata.topics and metadata.topics[t].error is None]
    ids: dict[str, str | None] = {t: None for t in topics}
    if present:
        for topic, future in admin.describe_topics(TopicCollection(present)).items():
            try:
                ids[topic] = str(future.result(timeout).topic_id)
            except KafkaException:
                ids[topic] = None
    return BrokerIdentity(metadata.cluster_id, ids)


def _entries(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return [p for p in path.iterdir() if p.name != MARKER and not p.name.startswith(".stale-")]


def has_local_state(state_dir: Path, extra_dirs: list[Path]) -> bool:
    """Anything on disk besides the marker: table files in the worker's directory, sent-log entries."""
    return any(_entries(d) for d in [state_dir, *extra_dirs])


def mismatch(recorded: dict | None, current: BrokerIdentity) -> str | None:
    """Why local state does not belong to the broker now answering, or None when it does."""
    missing = sorted(t for t, i in current.topic_ids.items() if i is None)
    if recorded is None:        # state from before markers: only a broker without any of them is surely another
        if missing and len(missing) == len(current.topic_ids):
            return f"none of its changelog topics is on the broker ({', '.join(missing)})"
        return None
    if recorded.get("cluster_id") != current.cluster_id:
        return f"it was written next to cluster {recorded.get('cluster_id')!r}, this broker is {current.cluster_id!r}"
    for topic, old_id in sorted((recorded.get("topic_ids") or {}).items()):
        new_id = current.topic_ids.get(topic)
        if new_id is None and topic in current.topic_ids:
            return f"its changelog topic {topic} is missing on the broker"
        if old_id is not None and new_id is not None and old_id != new_id:
            return f"its changelog topic {topic} was deleted and created again since (id {old_id} is now {new_id})"
    return None


def read_marker(state_dir: Path) -> dict | None:
    path = state_dir / MARKER
    return json.loads(path.read_text()) if path.is_file() else None


def write_marker(state_dir: Path, identity: BrokerIdentity) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{MARKER}.tmp"
    tmp.write_text(json.dumps(identity.to_json(), indent=1, sort_keys=True))
    os.replace(tmp, state_dir / MARKER)


def move_aside(paths: list[Path], now: dt.datetime | None = None) -> list[Path]:
    """Move each directory's entries into a `.stale-<time>` folder inside it: a clean start, nothing deleted."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y%m%dT%H%M%S%f")
    moved = []
    for directory in paths:
        entries = _entries(directory) + ([directory / MARKER] if (directory / MARKER).exists() else [])
        if not entries:
            continue
        target = directory / f".stale-{stamp}"
        target.mkdir()
        for entry in entries:
            os.replace(entry, target / entry.name)
        moved.append(target)
    return moved


def _identity_when_reachable(bootstrap: str, topics: list[str]) -> BrokerIdentity:
    """A broker that is not up yet is waited for (with backoff, said in the log), not taken for a new one."""
    delay = 1.0
    while True:
        try:
            return broker_identity(bootstrap, topics)
        except KafkaException as exc:
            log.warning("broker %s does not answer (%s): local state is checked against it before the worker "
                        "starts; retrying in %.0f s", bootstrap, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def check_local_state(bootstrap: str, state_dir: Path, extra_dirs: list[Path], changelogs: list[str],
                      reset: bool) -> list[Path]:
    """Refuse (LocalStateMismatch) local state that is not this broker's; with `reset`, move it aside
    instead. Returns the folders it was moved to."""
    if not has_local_state(state_dir, extra_dirs):
        return []
    reason = mismatch(read_marker(state_dir), _identity_when_reachable(bootstrap, changelogs))
    if reason is None:
        return []
    if reset:
        return move_aside([state_dir, *extra_dirs])
    where = ", ".join(str(p) for p in [state_dir, *extra_dirs])
    raise LocalStateMismatch(
        f"local state in {where} does not belong to the broker at {bootstrap}: {reason}. The embedded broker "
        "keeps nothing after it stops; tables and the sent log from before would make this worker run on half a "
        "memory. Start with --reset-local-state (or BACKOFFICE_RESET_LOCAL_STATE=1) to move that state aside and "
        "start clean, or point KAFKA_BOOTSTRAP_SERVERS at the broker it came from.")
