"""The Faust ceiling for bench/ingest.py: the least a Faust worker must do per ATS event.

One agent over the three ledger topics (as the worker's ingest agent) decodes each
message with our codec and writes its bytes to a RocksDB table (a changelog record per
event, as the worker does), with the same app settings as the real worker, and nothing
else: no domain, no state codec. bench/ingest.py runs it on the same topics to show how much of the worker's
rate is Faust's own per-event cost.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.codec import decode  # noqa: E402
from schemas.topics import ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS  # noqa: E402
from workers.app import RAW, create_app  # noqa: E402
from workers.names import LEDGER_TABLE  # noqa: E402

app = create_app()
table = app.Table(LEDGER_TABLE, default=None, partitions=8, key_type=bytes, value_type=bytes)


async def _decode_and_store(stream) -> None:
    async for event in stream.events():
        message = event.message
        decode(message.value, topic=message.topic, partition=message.partition, offset=message.offset)
        table[message.key] = message.value


app.agent(app.topic(ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES, schema=RAW, partitions=8),
          name="ceiling-ledger-inputs")(_decode_and_store)

if __name__ == "__main__":
    from workers.main import worker_class

    worker_class()(app, loglevel="warn", quiet=True).execute_from_commandline()
