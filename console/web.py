"""The door of every console route: who is logged in (signed session cookie), for which tenant,
with which role, and the CSRF token every form carries. `page()` wraps each endpoint; the route
test (tests/console/test_routes.py) fails for a route without it."""
from __future__ import annotations

import datetime as dt
import hmac
import secrets
from decimal import Decimal
from functools import wraps
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£", "NZD": "NZ$"}
NAV = [("/batches", "List Batches", "clerk"), ("/invoices", "Invoices", "clerk"), ("/lines", "Invoice Line Items", "clerk"),
       ("/credit-memo", "Create Credit Memo", "clerk"), ("/setup", "Invoice Setup", "admin"),
       ("/operations", "Operations", "admin"), ("/users", "Users", "admin")]

blocking = run_in_threadpool


def money(value, currency: str | None = None) -> str:
    """1234.5 USD -> '$1,234.50'; negative as '-$12.00'; unknown currencies keep their code."""
    if value is None or value == "":
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    symbol = SYMBOLS.get(currency or "", f"{currency} " if currency else "")
    return f"{sign}{symbol}{abs(amount):,.2f}"


def qty(value) -> str:
    """A quantity or rate as typed (40, 2.5), never 4E+1."""
    if value is None or value == "":
        return ""
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def local(value, zone: str) -> str:
    """An instant shown in the tenant's zone; a plain date as is."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


TEMPLATES.env.filters["money"] = money
TEMPLATES.env.filters["local"] = local
TEMPLATES.env.filters["qty"] = qty
TEMPLATES.env.globals["CATEGORY"] = {"TIMESHEETS": "Timesheets", "PRODUCTS_SERVICES": "Products & Services"}


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(request: Request, form) -> bool:
    sent, held = form.get("csrf") or "", request.session.get("csrf") or ""
    return bool(held) and hmac.compare_digest(str(sent), held)


def user(request: Request) -> dict | None:
    return request.session.get("user")


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    who = user(request)
    app = request.app.state.console
    tenant = who["tenant"] if who else None
    return TEMPLATES.TemplateResponse(request, name, {
        "user": who, "csrf": csrf_token(request), "tenant": tenant,
        "zone": app.zone(tenant) if tenant else "UTC",
        "nav": [n for n in NAV if who and (n[2] == "clerk" or who["role"] == "admin")], **context},
        status_code=status_code)


def refuse(request: Request, status: int, message: str) -> Response:
    return render(request, "refused.html", status_code=status, message=message)


def page(role: str = "clerk"):
    """Wrap an endpoint: anonymous -> 303 to /login; a clerk on an admin page -> 403; a POST
    without this session's CSRF token -> 403. The endpoint reads the tenant from `request.state`,
    never from the URL or the form."""
    def wrap(endpoint):
        @wraps(endpoint)
        async def guarded(request: Request) -> Response:
            who = user(request)
            if not who:
                path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            if role == "admin" and who["role"] != "admin":
                return refuse(request, 403, "This screen is for administrators of your agency.")
            if request.method == "POST":
                form = await request.form()
                if not csrf_ok(request, form):
                    return refuse(request, 403, "This form has expired or did not come from this console: "
                                                "open the page again and repeat.")
                request.state.form = form
            request.state.tenant = who["tenant"]
            request.state.role = who["role"]
            return await endpoint(request)
        guarded.console_role = role
        return guarded
    return wrap


def safe_next(target: str | None) -> str:
    """Only a path of this site (no //host, no scheme) is followed after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/batches"
