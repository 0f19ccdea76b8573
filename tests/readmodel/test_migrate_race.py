"""Processes that start together (a projector, `backoffice api`, the console) migrate the same
SQLite read model at the same moment: every one of them must come through, the database at the
newest revision. (In make test a projector died of "table alembic_version already exists".)"""
from __future__ import annotations

import multiprocessing

from alembic.script import ScriptDirectory

from readmodel.db import alembic_config, engine_for, migrate

RACERS = 6


def _race(url: str, barrier, results) -> None:
    engine = engine_for(url)
    barrier.wait()
    try:
        migrate(engine)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - the test reports what a racer died of
        results.put(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        engine.dispose()


def test_processes_migrating_one_sqlite_file_at_once_all_come_through(tmp_path):
    url = f"sqlite:///{tmp_path / 'readmodel.sqlite3'}"
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(RACERS), ctx.Queue()
    racers = [ctx.Process(target=_race, args=(url, barrier, results)) for _ in range(RACERS)]
    for p in racers:
        p.start()
    for p in racers:
        p.join(120)
    said = [results.get(timeout=5) for _ in racers]
    assert said == ["ok"] * RACERS, said
    engine = engine_for(url)
    try:
        with engine.connect() as c:
            stamped = c.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    finally:
        engine.dispose()
    assert stamped == [ScriptDirectory.from_config(alembic_config()).get_current_head()]
