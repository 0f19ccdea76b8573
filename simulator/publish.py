"""Publish a simulated stream to Kafka, in order, with the project's producer settings."""
from __future__ import annotations

import json
from pathlib import Path

from confluent_kafka import Producer

from infra.kafka import producer_config
from schemas.codec import Codec, default_codec
from simulator.generate import SimEvent, SimulatedStream


def encode_event(event: SimEvent, codec: Codec | None = None) -> bytes:
    if event.raw is not None:
        return event.raw
    return (codec or default_codec()).encode(event.schema, event.record)


def publish(stream: SimulatedStream, bootstrap: str, codec: Codec | None = None) -> dict[str, int]:
    """Produce every event; returns the count per topic. Raises if any delivery failed."""
    producer = Producer(producer_config(bootstrap))
    failures: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is not None:
            failures.append(f"{msg.topic()}: {err}")

    for event in stream.events:
        value = encode_event(event, codec)
        while True:
            try:
                producer.produce(event.topic, key=event.key, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        raise RuntimeError(f"{remaining} undelivered, failures: {failures[:5]}")
    return stream.counts()


def write_expected(stream: SimulatedStream, path: Path) -> None:
    path.write_text(json.dumps(stream.expected_pay_lines, indent=1, sort_keys=True) + "\n")
