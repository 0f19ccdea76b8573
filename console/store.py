"""The console's own records: users (argon2 password hashes, a role, one tenant each) and the
Invoice Setup each tenant last saved through the console (its time zone formats dates). Kept in
their own database (BACKOFFICE_CONSOLE_DATABASE_URL), apart from the read model the projector
may rebuild."""
from __future__ import annotations

import datetime as dt
import json
import re

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("clerk", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10

metadata = sa.MetaData()
users = sa.Table(
    "console_users", metadata,
    sa.Column("tenant_id", sa.String(255), primary_key=True),
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
setups = sa.Table(
    "console_setups", metadata,
    sa.Column("tenant_id", sa.String(255), primary_key=True),
    sa.Column("values", sa.Text, nullable=False),          # JSON: time_zone, week_ending_day, ...
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
)


class UserRefused(ValueError):
    """A user that cannot be created, with the reason in words."""


class ConsoleStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.hasher = PasswordHasher()
        metadata.create_all(engine)
        # a wrong username costs the same as a wrong password: no timing oracle for who exists
        self._dummy = self.hasher.hash("not a password of anyone")

    def add_user(self, tenant: str, username: str, password: str, role: str) -> None:
        if not USERNAME.match(username or ""):
            raise UserRefused("a user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
        if role not in ROLES:
            raise UserRefused(f"a role is one of {', '.join(ROLES)}")
        if len(password or "") < MIN_PASSWORD:
            raise UserRefused(f"a password has at least {MIN_PASSWORD} characters")
        with self.engine.begin() as c:
            if c.execute(sa.select(users.c.username).where(users.c.tenant_id == tenant,
                                                           users.c.username == username)).first():
                raise UserRefused(f"user {username} already exists")
            c.execute(users.insert().values(tenant_id=tenant, username=username, role=role,
                                            password_hash=self.hasher.hash(password),
                                            created_at=dt.datetime.now(dt.timezone.utc)))

    def verify(self, tenant: str, username: str, password: str) -> str | None:
        """The user's role when the password matches, else None."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(users.c.password_hash, users.c.role).where(
                users.c.tenant_id == tenant, users.c.username == username)).first()
        try:
            self.hasher.verify(row.password_hash if row else self._dummy, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return row.role if row else None

    def users(self, tenant: str) -> list[dict]:
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(
                sa.select(users.c.username, users.c.role, users.c.created_at).where(
                    users.c.tenant_id == tenant).order_by(users.c.username))]

    def save_setup(self, tenant: str, values: dict) -> None:
        with self.engine.begin() as c:
            c.execute(setups.delete().where(setups.c.tenant_id == tenant))
            c.execute(setups.insert().values(tenant_id=tenant, values=json.dumps(values),
                                             saved_at=dt.datetime.now(dt.timezone.utc)))

    def setup(self, tenant: str) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(setups.c["values"]).where(setups.c.tenant_id == tenant)).first()
        return json.loads(row[0]) if row else None
