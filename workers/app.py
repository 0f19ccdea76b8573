"""The Faust application: configuration only. Agents live in workers/agents_*.py and
register themselves on `app` when imported (see `load_agents`).

All Kafka traffic of external topics is raw bytes: the agents decode with our Avro
codec themselves, so a bad message becomes a dead letter instead of a crashed agent.
Internal topics and tables carry our dataclasses in versioned Avro (workers/state.py, schemas/state/).
"""
from __future__ import annotations

import os
from pathlib import Path

import faust

from infra.settings import load_settings
from workers.names import APP_ID


def _worker_dir(data_dir: Path) -> Path:
    worker_id = os.environ.get("BACKOFFICE_WORKER_ID", "0")
    path = data_dir / f"worker-{worker_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _web_application_options(settings) -> dict:
    """The aiohttp application under Faust's web server: one token gate in front of every route,
    and no body larger than the API accepts is buffered."""
    from ops.api.gate import token_gate

    return {"middlewares": [token_gate(settings.api_max_body_bytes)],
            "client_max_size": settings.api_max_body_bytes}


def create_app(bootstrap: str | None = None) -> faust.App:
    settings = load_settings()
    bootstrap = bootstrap or settings.kafka_bootstrap_servers or "127.0.0.1:9092"
    fast_groups = os.environ.get("BACKOFFICE_FAST_REBALANCE", "1") == "1"
    from workers import tansu_compat

    tansu_compat.install(bootstrap)
    return faust.App(
        os.environ.get("BACKOFFICE_APP_ID", APP_ID),
        broker=[f"kafka://{b.strip()}" for b in bootstrap.split(",")],
        store=settings.table_store,
        datadir=str(_worker_dir(settings.data_dir)),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=8,
        topic_replication_factor=1,
        table_standby_replicas=0,
        # Tansu holds a join for the whole rebalance timeout: keep it short.
        broker_rebalance_timeout=4.0 if fast_groups else 60.0,
        broker_session_timeout=6.0 if fast_groups else 30.0,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        producer_linger=0.02,
        producer_max_batch_size=1_000_000,
        stream_buffer_maxsize=settings.stream_buffer_maxsize,
        web_enabled=os.environ.get("BACKOFFICE_WEB", "1") == "1",
        web_host=os.environ.get("BACKOFFICE_WEB_HOST", "127.0.0.1"),   # 0.0.0.0 in a container
        web_port=settings.web_port,
        web_in_thread=False,
        # Faust's own views (/table/..., /router/..., /graph/..., statistics, /performance) answer
        # any caller with table contents: none is served. What is left sits behind the token gate.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        web_application_options=_web_application_options(settings),
        logging_config=None,
    )


app = create_app()

#: Internal topics: bytes keys, our dataclasses as values in the versioned state schemas
#: (the "state" codec, registered by workers.state; tables: see workers.state too).
STATE = faust.Schema(key_type=bytes, key_serializer="raw", value_serializer="state")
#: External topics: raw bytes both ways, decoded by schemas.codec in the agent.
RAW = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
