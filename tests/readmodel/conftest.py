"""Read-model databases: SQLite in a temp dir, and a real PostgreSQL server started from the
Debian binaries (infra.pgserver). Without the binaries the PostgreSQL lane is skipped LOUDLY,
or fails when BACKOFFICE_REQUIRE_POSTGRES=1 (.ci/run sets it)."""
from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from infra.pgserver import PostgresServer, binaries
from infra.settings import load_settings
from tests.lanes import missing

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    if binaries() is None:
        reason = ("PostgreSQL binaries (initdb, postgres) not found in /usr/local/bin or /usr/lib/postgresql/*/bin: "
                  "the PostgreSQL lane of the read-model tests DID NOT RUN (apt-get install postgresql)")
        missing(reason, load_settings().require_postgres, "BACKOFFICE_REQUIRE_POSTGRES")
    with PostgresServer() as server:
        yield server


def _fresh_postgres(server: PostgresServer) -> str:
    name = f"rm{next(_databases)}"
    engine = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"
    return _fresh_postgres(request.getfixturevalue("postgres_server"))
