"""Writing a Batch: one transaction holds the rows and the offsets they cover.

Upserts are idempotent (a pay line keeps its highest version; an invoice, a sync status or
an outcome its newest event; histories and dead letters are keyed by their own ids), and the
positions are fenced: a transaction moves a partition's position only from the value this
process started from, so a process that lost the partition in a rebalance cannot write after
the new owner (its transaction fails with Fenced and it re-reads its positions).
"""
from __future__ import annotations

from sqlalchemy import and_, column, delete, select, update
from sqlalchemy import table as sql_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from readmodel import models as m
from readmodel.rows import Batch


class Fenced(RuntimeError):
    """Another process moved a partition's position first: this batch was not stored."""


def _insert(conn: Connection):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


def _text(value):
    """PostgreSQL text cannot hold NUL; hostile input (a dead letter's key, an ATS description) may."""
    if type(value) is str and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _staged(conn: Connection, table, rows: list[dict]):
    """PostgreSQL: COPY the rows into a session temp table (emptied at commit) and return a
    SELECT of it, so one INSERT ... SELECT ... ON CONFLICT writes them all: psycopg's
    executemany sends a statement per row, about three times slower."""
    names = [c.name for c in table.columns]
    staging = f"staging_{table.name}"
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" (LIKE "{table.name}") ON COMMIT DELETE ROWS')
        quoted = ", ".join(f'"{n}"' for n in names)
        with cur.copy(f'COPY "{staging}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([_text(row[n]) for n in names])
    return select(*[column(n) for n in names]).select_from(sql_table(staging))


def _write(conn: Connection, stmt_of, table, rows: list[dict]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        base = postgresql.insert(table).from_select([c.name for c in table.columns], _staged(conn, table, rows))
        conn.execute(stmt_of(base))
    else:
        conn.execute(stmt_of(sqlite.insert(table)), rows)


def _upsert(conn: Connection, table, rows: list[dict], keys: list[str], newer_than: str | None = None) -> None:
    def stmt_of(stmt):
        columns = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        where = table.c[newer_than] < stmt.excluded[newer_than] if newer_than else None
        return stmt.on_conflict_do_update(index_elements=keys, set_=columns, where=where)
    _write(conn, stmt_of, table, rows)


def _insert_new(conn: Connection, table, rows: list[dict], keys: list[str]) -> None:
    _write(conn, lambda stmt: stmt.on_conflict_do_nothing(index_elements=keys), table, rows)


def positions(engine: Engine, group: str) -> dict[tuple[str, int], int]:
    with engine.connect() as conn:
        rows = conn.execute(select(m.consumer_positions.c.topic, m.consumer_positions.c.partition,
                                   m.consumer_positions.c.next_offset)
                            .where(m.consumer_positions.c.group_id == group))
        return {(t, p): o for t, p, o in rows}


def _move(conn: Connection, group: str, start: dict[tuple[str, int], int], batch: Batch) -> None:
    table = m.consumer_positions
    for (topic, partition), next_offset in sorted(batch.positions.items()):
        where = and_(table.c.group_id == group, table.c.topic == topic, table.c.partition == partition)
        if (topic, partition) in start:
            stmt = update(table).where(where, table.c.next_offset == start[(topic, partition)]).values(
                next_offset=next_offset)
        else:
            stmt = _insert(conn)(table).on_conflict_do_nothing().values(
                group_id=group, topic=topic, partition=partition, next_offset=next_offset)
        # RETURNING, not rowcount: psycopg reports -1 for these statements
        if len(conn.execute(stmt.returning(table.c.next_offset)).all()) != 1:
            raise Fenced(f"{topic}[{partition}] was moved by another projector of group {group}")


def store(engine: Engine, group: str, start: dict[tuple[str, int], int], batch: Batch) -> None:
    """Write the batch and move the positions from `start` (this process's view) in one transaction."""
    with engine.begin() as conn:
        _move(conn, group, start, batch)
        _upsert(conn, m.pay_lines, list(batch.pay_lines.values()), ["pay_line_id"], newer_than="version")
        if batch.invoices:
            _upsert(conn, m.invoices, list(batch.invoices.values()), ["invoice_id"])
            conn.execute(delete(m.invoice_lines).where(m.invoice_lines.c.invoice_id.in_(list(batch.invoice_lines))))
            lines = [row for rows in batch.invoice_lines.values() for row in rows]
            _write(conn, lambda stmt: stmt, m.invoice_lines, lines)
        _insert_new(conn, m.invoice_events, list(batch.invoice_events.values()), ["event_id"])
        _upsert(conn, m.sync_status, list(batch.sync_status.values()), ["invoice_id", "system"])
        _insert_new(conn, m.sync_events, list(batch.sync_events.values()), ["event_id"])
        _upsert(conn, m.command_outcomes, list(batch.outcomes.values()), ["command_id"])
        _insert_new(conn, m.dead_letters, list(batch.dead_letters.values()), ["topic", "partition", "offset"])
