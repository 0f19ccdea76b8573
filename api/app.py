"""`create_app()`: the ops API as a FastAPI application (served by `backoffice api` with uvicorn).

Its state: the settings (the one settings object), the read model's engine, and the command bus
that publishes on billing.commands (`KafkaBus`; tests of the doors hand in another one that
records what would be published)."""
from __future__ import annotations

import datetime as dt
from typing import Callable, Protocol

from fastapi import FastAPI

from api import commands, errors, probes, reads
from api.doors import Door
from infra.settings import Settings, database_url, load_settings
from ops.api.auth import load_tokens
from ops.api.gate import OPEN_PATHS
from ops.commands import publish_many_and_wait
from ops.readiness import BrokerProbe
from readmodel import freshness
from readmodel.db import engine_for


class CommandBus(Protocol):
    def publish(self, records: list[dict], wait: float) -> dict[str, dict]: ...

    def read_your_writes(self, command_ids: list[str], timeout: float) -> str: ...


class KafkaBus:
    """Publishes on the configured broker; read-your-writes through readmodel.freshness."""

    def __init__(self, settings: Settings, engine) -> None:
        self.settings, self.engine = settings, engine

    def _bootstrap(self) -> str:
        from api.errors import ApiError

        if not self.settings.kafka_bootstrap_servers:
            raise ApiError(503, "KAFKA_BOOTSTRAP_SERVERS is not set: the API cannot publish commands")
        return self.settings.kafka_bootstrap_servers

    def publish(self, records: list[dict], wait: float) -> dict[str, dict]:
        return publish_many_and_wait(self._bootstrap(), records, wait)

    def read_your_writes(self, command_ids: list[str], timeout: float) -> str:
        try:
            for command_id in command_ids:
                freshness.wait_caught_up(self.engine, self.settings.projector_group, self._bootstrap(), timeout,
                                         command_id)
        except freshness.NotCaughtUp as exc:
            return str(exc)
        return "caught up"


def _mount(app: FastAPI, router) -> None:
    """Each route of `router` as a route of the app itself (not include_router), so `app.routes` lists
    every served route flat, whatever the FastAPI version: the door test enumerates them."""
    for route in router.routes:
        app.add_api_route(route.path, route.endpoint, methods=sorted(route.methods), name=route.name,
                          response_model=route.response_model, status_code=route.status_code,
                          summary=route.summary, responses=route.responses, response_class=route.response_class)


def _document_the_door(app: FastAPI) -> None:
    """FastAPI's OpenAPI document, plus the bearer scheme the door (a middleware, which FastAPI cannot
    see) enforces on every route but the open probes."""
    derive = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = derive()
            doc.setdefault("components", {})["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            for path, operations in doc["paths"].items():
                if path not in OPEN_PATHS:
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = doc
        return app.openapi_schema
    app.openapi = openapi


def create_app(settings: Settings | None = None, engine=None, bus: CommandBus | None = None,
               now: Callable[[], dt.datetime] | None = None) -> FastAPI:
    settings = settings or load_settings()
    engine = engine if engine is not None else engine_for(database_url(settings))
    app = FastAPI(title="backoffice ops API", version="2.0.0",
                  description="Batches, invoices, windows, health and operator commands, answered from the read "
                              "model (complete whatever the number of workers). Every route but /healthz, /readyz "
                              "and /metrics needs `Authorization: Bearer <token>` (BACKOFFICE_OPS_TOKENS).")
    app.state.settings, app.state.engine = settings, engine
    app.state.bus = bus or KafkaBus(settings, engine)
    if now is None:
        from workers import clock
        now = clock.now
    app.state.now = now
    app.state.broker = BrokerProbe(settings.kafka_bootstrap_servers or "", timeout=2)
    errors.install(app)
    for router in (probes.router, reads.router, commands.router):
        _mount(app, router)
    _document_the_door(app)
    tokens = settings.ops_tokens.get_secret_value() if settings.ops_tokens is not None else "{}"
    parsed = load_tokens(tokens)        # a malformed BACKOFFICE_OPS_TOKENS fails at start, not per request
    app.add_middleware(Door, tokens=lambda: parsed, max_body_bytes=settings.api_max_body_bytes,
                       max_json_depth=settings.api_max_json_depth)
    return app
