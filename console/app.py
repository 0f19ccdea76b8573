"""`create_app(settings)`: the console's Starlette app. Every route but login, the stylesheet
and logout is wrapped by console.web.page (tenant from the session, role, CSRF on POST)."""
from __future__ import annotations

import logging
import secrets

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console import views_admin, views_auth, views_billing, views_invoice, views_lines
from console.actions import Actions
from console.store import ConsoleStore
from console.throttle import LoginThrottle
from infra.settings import Settings, console_database_url, database_url

log = logging.getLogger(__name__)

#: Routes anyone may reach: they show no tenant's data.
PUBLIC = {"/login", "/logout", "/static"}


class ConsoleApp:
    """What the views share: settings, the read model, the console's store, the actions."""

    def __init__(self, settings: Settings, publish=None, engine=None, migrate_read_model: bool = False) -> None:
        import sqlalchemy as sa

        from readmodel.db import engine_for, migrate

        self.settings = settings
        self.engine = engine if engine is not None else engine_for(database_url(settings))
        if migrate_read_model:      # the screens work before the projector has run
            migrate(self.engine)      # takes turns with a projector migrating at the same moment
        self.store = ConsoleStore(sa.create_engine(console_database_url(settings)))
        self.actions = Actions(settings.kafka_bootstrap_servers, self.engine, settings.console_command_timeout,
                               publish, settings.projector_group)
        self.lag_monitor = None
        self.templates: dict[str, list[str]] | None = None
        self.throttle = LoginThrottle()

    def zone(self, tenant: str) -> str:
        saved = self.store.setup(tenant)
        return (saved or {}).get("time_zone") or self.settings.timezone

    def ops_tokens(self) -> dict[str, str]:
        from ops.api.auth import load_tokens

        return load_tokens(self.settings.ops_tokens.get_secret_value())


def routes() -> list:
    return [
        Route("/login", views_auth.login_form, methods=["GET"]),
        Route("/login", views_auth.login, methods=["POST"]),
        Route("/logout", views_auth.logout, methods=["POST"]),
        Route("/", views_billing.home, methods=["GET"]),
        Route("/users", views_auth.users, methods=["GET"]),
        Route("/users", views_auth.add_user, methods=["POST"]),
        Route("/batches", views_billing.batches, methods=["GET"]),
        Route("/health", views_billing.health, methods=["GET"]),
        Route("/generate", views_billing.generate, methods=["POST"]),
        Route("/batches/{batch}/resync", views_billing.resync_batch, methods=["POST"]),
        Route("/invoices", views_billing.invoices, methods=["GET"]),
        Route("/invoices", views_billing.bulk, methods=["POST"]),
        Route("/invoices/{number}", views_invoice.detail, methods=["GET"]),
        Route("/invoices/{number}/pdf", views_invoice.pdf, methods=["GET"]),
        Route("/invoices/{number}/record", views_invoice.record, methods=["POST"]),
        Route("/invoices/{number}/send", views_invoice.send, methods=["POST"]),
        Route("/invoices/{number}/void", views_invoice.void, methods=["POST"]),
        Route("/invoices/{number}/resync", views_invoice.resync, methods=["POST"]),
        Route("/lines", views_lines.lines, methods=["GET"]),
        Route("/lines", views_lines.act, methods=["POST"]),
        Route("/lines/consolidate", views_lines.consolidate, methods=["POST"]),
        Route("/credit-memo", views_lines.credit_form, methods=["GET"]),
        Route("/credit-memo", views_lines.credit, methods=["POST"]),
        Route("/setup", views_admin.setup_form, methods=["GET"]),
        Route("/setup", views_admin.setup, methods=["POST"]),
        Route("/operations", views_admin.operations, methods=["GET"]),
        Route("/operations/dead-letters/{topic}/{partition:int}/{offset:int}", views_admin.dead_letter_bytes,
              methods=["GET"]),
        Mount("/static", app=StaticFiles(packages=[("console", "static")]), name="static"),
    ]


#: Sent with every answer: no framing by other sites (the action forms), no sniffing, no scripts
#: or styles from elsewhere, and no inline script at all (the console has none).
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'none'; object-src 'self'; frame-ancestors 'self'; "
                                 b"form-action 'self'; base-uri 'none'"),
    (b"x-frame-options", b"SAMEORIGIN"), (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"), (b"cache-control", b"no-store")]


class SecurityHeaders:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)
        await self.app(scope, receive, with_headers)


def create_app(settings: Settings, publish=None, engine=None, migrate_read_model: bool = False) -> Starlette:
    key = settings.console_secret_key.get_secret_value() if settings.console_secret_key else None
    if not key:
        log.warning("BACKOFFICE_CONSOLE_SECRET_KEY is not set: a random key signs this process's sessions")
        key = secrets.token_urlsafe(32)
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders), Middleware(
        SessionMiddleware, secret_key=key, session_cookie="backoffice_console", max_age=8 * 3600,
        same_site="lax", https_only=settings.console_secure_cookies)])
    app.state.console = ConsoleApp(settings, publish, engine, migrate_read_model)
    return app
