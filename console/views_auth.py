"""Login (a user's password, or the tenant's ops token for a first admin), logout, and the
admin's user list."""
from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse

from console.store import UserRefused
from console.web import blocking, csrf_ok, page, refuse, render, safe_next

LOGIN_FAILED = "Those details did not let you in. Check the agency, user name and password (or the token)."


async def login_form(request: Request):
    return render(request, "login.html", next=safe_next(request.query_params.get("next")))


async def login(request: Request):
    form = await request.form()
    if not csrf_ok(request, form):
        return refuse(request, 403, "The login form expired: open it again.")
    app = request.app.state.console
    target = safe_next(form.get("next"))
    tenant, token = (form.get("tenant") or "").strip(), (form.get("token") or "").strip()
    name = (form.get("username") or "").strip()
    keys = [("address", request.client.host if request.client else "?")] + ([] if token else [("user", tenant, name)])
    wait = app.throttle.wait_seconds(*keys)
    if wait:
        return render(request, "login.html", status_code=429, next=target, tenant=tenant, username=name,
                      error=f"Too many failed attempts: try again in {int(wait // 60) + 1} minute(s).")
    if token:
        scope = next((s for t, s in app.ops_tokens().items() if hmac.compare_digest(t.encode(), token.encode())), None)
        if scope is not None and scope != "*":
            tenant = scope
        who = {"tenant": tenant, "name": "ops token", "role": "admin"} if scope is not None and tenant else None
    else:
        role = await blocking(app.store.verify, tenant, name, form.get("password") or "")
        who = {"tenant": tenant, "name": name, "role": role} if role else None
    if who is None:
        app.throttle.failed(*keys)
        return render(request, "login.html", status_code=401, next=target, error=LOGIN_FAILED, tenant=tenant,
                      username=name)
    app.throttle.succeeded(keys[-1])
    request.session.clear()
    request.session["user"] = who
    request.session["csrf"] = secrets.token_urlsafe(32)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request):
    form = await request.form()
    if request.session.get("user") and not csrf_ok(request, form):
        return refuse(request, 403, "The form expired: open the page again.")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@page("admin")
async def users(request: Request):
    app = request.app.state.console
    return render(request, "users.html", users=await blocking(app.store.users, request.state.tenant))


@page("admin")
async def add_user(request: Request):
    app, form = request.app.state.console, request.state.form
    error = None
    try:
        await blocking(app.store.add_user, request.state.tenant, (form.get("username") or "").strip(),
                       form.get("password") or "", form.get("role") or "")
    except UserRefused as exc:
        error = str(exc)
    listed = await blocking(app.store.users, request.state.tenant)
    return render(request, "users.html", status_code=400 if error else 200, users=listed, error=error,
                  added=None if error else form.get("username"))
