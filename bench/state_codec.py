"""The worker's state codec (workers/state.py: versioned Avro) against the pickle it replaced,
on the value the ingest path reads and writes on every event: one placement's LedgerRecord,
built by the real ledger logic from simulated events, at 12, 48 and 156 weeks.

Pickle is measured here only as the baseline, as the worker used it before: protocol 5, with the
precomputed state functions for slotted dataclasses that backoffice/pickling.py installed (copied
below as `_speed_up_pickling`, applied in this process only).

Headline: `ratio` = pickle's encode+decode time over the state codec's at 12 weeks (> 1: the
state codec is faster); per size, microseconds per encode and per decode and bytes of each, and
the per-event cost of the ledger's read-apply-store loop (every event of the placement, in
order, as the agent does it without a cache) with each codec.
"""
from __future__ import annotations

import datetime as dt
import json
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.generate import generate  # noqa: E402
from simulator.publish import encode_event  # noqa: E402
from workers.ledger_logic import apply_raw, new_record  # noqa: E402
from workers.state import dumps, loads  # noqa: E402

RESULTS = Path(__file__).with_name("results")


def _speed_up_pickling() -> None:
    """backoffice/pickling.py as it was (removed with the state codec): field names precomputed."""
    import dataclasses
    import operator

    import backoffice.ledger
    import backoffice.model
    import workers.ledger_logic

    for module in (backoffice.model, backoffice.ledger, workers.ledger_logic):
        for cls in list(vars(module).values()):
            if not (isinstance(cls, type) and cls.__module__ == module.__name__ and dataclasses.is_dataclass(cls)
                    and "__slots__" in cls.__dict__):
                continue
            names = tuple(f.name for f in dataclasses.fields(cls))
            getter = operator.attrgetter(*names)
            cls.__getstate__ = (lambda self, _g=getter: (_g(self),)) if len(names) == 1 else (lambda self, _g=getter: _g(self))

            def setstate(self, state, _names=names):
                for name, value in zip(_names, state):
                    object.__setattr__(self, name, value)

            cls.__setstate__ = setstate
START = dt.date(2026, 1, 5)


def placement_events(weeks: int) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """The busiest placement of a one-tenant simulation: its key and its (topic, key, value) events."""
    stream = generate(tenants=1, placements=3, weeks=weeks, seed=11, start=START)
    by_key: dict[bytes, list] = {}
    for e in stream.events:
        if e.topic.startswith("ats.") and e.topic != "ats.accounts":
            by_key.setdefault(e.key, []).append((e.topic, e.key, encode_event(e)))
    key, events = max(by_key.items(), key=lambda kv: len(kv[1]))
    return key.decode(), events


def ingest(key: str, events, weeks: int, load, store) -> tuple[object, float]:
    """What the ledger agent does per event, without Faust: read the stored record, apply, store.
    Returns the final record and the mean microseconds per event."""
    today = START + dt.timedelta(weeks=weeks + 1)
    stored = store(new_record(key))
    t0 = time.process_time()
    for i, (topic, k, value) in enumerate(events):
        record = load(stored)
        try:
            record = apply_raw(record, topic, value, partition=0, offset=i, today=today, key=k)
        except Exception:   # noqa: BLE001  (an event the ledger refuses: still read, not stored)
            continue
        stored = store(record)
    return load(stored), (time.process_time() - t0) / len(events) * 1e6


def ledger_record(weeks: int):
    """The busiest placement's record after all its events."""
    key, events = placement_events(weeks)
    return ingest(key, events, weeks, lambda r: r, lambda r: r)[0]


def per_call(fn, arg, budget_s: float = 1.0) -> float:
    """CPU microseconds per call (process time: the machine is shared), best of three timed batches."""
    n, start = 0, time.process_time()
    while time.process_time() - start < 0.1:
        fn(arg)
        n += 1
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        for _ in range(n):
            fn(arg)
        best = min(best, (time.process_time() - t0) / n)
    return best * 1e6


def measure(weeks: int) -> dict:
    record = ledger_record(weeks)
    avro, pick = dumps(record), pickle.dumps(record, protocol=5)
    assert loads(avro) == record == pickle.loads(pick)
    row = {"lines": len(record.ledger.lines), "approvals": len(record.approvals),
           "avro_bytes": len(avro), "pickle_bytes": len(pick),
           "avro_encode_us": per_call(dumps, record), "avro_decode_us": per_call(loads, avro),
           "pickle_encode_us": per_call(lambda r: pickle.dumps(r, protocol=5), record),
           "pickle_decode_us": per_call(pickle.loads, pick)}
    key, events = placement_events(weeks)
    pick_record, row["pickle_per_event_us"] = ingest(key, events, weeks, pickle.loads, lambda r: pickle.dumps(r, protocol=5))
    avro_record, row["avro_per_event_us"] = ingest(key, events, weeks, loads, dumps)
    assert pick_record == avro_record == record
    row["avro_us"] = row["avro_encode_us"] + row["avro_decode_us"]
    row["pickle_us"] = row["pickle_encode_us"] + row["pickle_decode_us"]
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}


def main() -> None:
    _speed_up_pickling()
    sizes = {str(w): measure(w) for w in (12, 48, 156)}
    for w, row in sizes.items():
        print(f"{w:>4} weeks: {row['lines']} lines, avro {row['avro_bytes']} B "
              f"enc {row['avro_encode_us']} us dec {row['avro_decode_us']} us | pickle {row['pickle_bytes']} B "
              f"enc {row['pickle_encode_us']} us dec {row['pickle_decode_us']} us | per event (load, apply, store): "
              f"avro {row['avro_per_event_us']} us, pickle {row['pickle_per_event_us']} us")
    result = {"ratio": round(sizes["12"]["pickle_us"] / sizes["12"]["avro_us"], 3),
              "ratio_48": round(sizes["48"]["pickle_us"] / sizes["48"]["avro_us"], 3),
              "ratio_156": round(sizes["156"]["pickle_us"] / sizes["156"]["avro_us"], 3),
              "sizes": sizes}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "state_codec.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "sizes"}))


if __name__ == "__main__":
    main()
