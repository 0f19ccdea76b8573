"""The three open routes of `backoffice api`: /healthz (process up), /readyz (the read model is
reachable and filled, the broker answers, the projector is within BACKOFFICE_API_READY_MAX_LAG
messages of the billing topics' ends; 503 with the reasons otherwise), /metrics (Prometheus)."""
from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from readmodel import freshness, queries as q

router = APIRouter()


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict:
    return {"status": "ok", "app": "backoffice-api"}


def _readiness(state) -> tuple[list[str], int | None]:
    reasons: list[str] = []
    try:
        with state.engine.connect() as c:
            c.execute(sa.text("SELECT 1"))
        if not sa.inspect(state.engine).has_table("consumer_positions"):
            return ["the read model is empty: is `backoffice projector` running?"], None
    except sa.exc.SQLAlchemyError as exc:
        return [f"the read model's database does not answer: {type(exc).__name__}"], None
    bootstrap = state.settings.kafka_bootstrap_servers
    if not bootstrap:
        return ["KAFKA_BOOTSTRAP_SERVERS is not set: commands cannot be published"], None
    if (unreachable := state.broker.cached_check()) is not None:
        return [unreachable], None
    try:
        behind = sum(q.behind(state.engine, state.settings.projector_group, freshness.topic_ends(bootstrap)).values())
    except Exception as exc:   # noqa: BLE001 - librdkafka: say what failed
        return [f"cannot read the billing topics' ends: {exc}"], None
    if behind > state.settings.api_ready_max_lag:
        reasons.append(f"the projector is {behind} messages behind the billing topics "
                       f"(more than BACKOFFICE_API_READY_MAX_LAG={state.settings.api_ready_max_lag})")
    return reasons, behind


@router.get("/readyz", responses={503: {"description": "Not ready: the reasons"}}, summary="Read model reachable and current, broker reachable (503 with reasons otherwise)")
async def readyz(request: Request) -> JSONResponse:
    reasons, behind = await asyncio.get_running_loop().run_in_executor(None, _readiness, request.app.state)
    return JSONResponse({"ready": not reasons, "reasons": reasons, "projector_behind": behind},
                        status_code=200 if not reasons else 503)


@router.get("/metrics", summary="Prometheus text format", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST.split(";")[0])
