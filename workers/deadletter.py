"""Dead-lettering: a message we cannot process goes to `<topic>.dlq` with the reason
and its original bytes, and the stream goes on."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

import faust

from infra.settings import load_settings
from ops import metrics
from ops.logs import log_context

from workers.app import RAW

from schemas.codec import encode
from schemas.mapping import dead_letter_record
from schemas.topics import dead_letter_topic

log = logging.getLogger(__name__)

#: Failures that are the message's fault (dead-letter it), as opposed to ours (crash, retry).
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DeadLetters:
    """Sends dead letters through the app's producer, one topic object per source topic."""

    def __init__(self, app: faust.App, clock: Clock = utc_now) -> None:
        self.app = app
        self.max_value_bytes = load_settings().max_dead_letter_value_bytes
        self.clock = clock
        self._topics: dict[str, faust.TopicT] = {}
        self.sent = 0

    def _topic(self, source: str) -> faust.TopicT:
        if source not in self._topics:
            self._topics[source] = self.app.topic(dead_letter_topic(source), schema=RAW, internal=False)
        return self._topics[source]

    async def send(self, message, error: BaseException, tenant_id: str = "") -> None:
        record = dead_letter_record(topic=message.topic, partition=message.partition, offset=message.offset,
                                    key=message.key, value=message.value, error=error,
                                    first_seen=self.clock(), tenant_id=tenant_id,
                                    max_value_bytes=self.max_value_bytes)
        with log_context(tenant_id=tenant_id or None, topic=message.topic, partition=message.partition,
                         offset=message.offset):
            log.warning("dead-lettered %s[%s]@%s: %s: %s", message.topic, message.partition, message.offset,
                        type(error).__name__, record["error"][:500])
        # the record's key, not the message's: an oversized key is kept truncated
        await self._topic(message.topic).send(key=record["original_key"], value=encode("DeadLetter", record))
        self.sent += 1
        metrics.DEAD_LETTERED.labels(message.topic, type(error).__name__).inc()
