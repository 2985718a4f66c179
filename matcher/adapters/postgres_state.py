"""StateStore on PostgreSQL (psycopg 3), for workers that run as several processes or on several
machines: they share one database, where SQLite would need one file on one host.

Every table lives in one schema (`chainmatch` unless told otherwise) as (key, doc, written, seq): the
JSON document as text, so it comes back exactly as it went in; when it was last written (seconds since
the epoch), which `trim` reads; and a number from one sequence, which orders rows written in the same
second. Keys compare byte by byte (`COLLATE "C"`), the order of Python's string comparison, so `page`
walks them as the other adapters do. Every call is one transaction on one connection, serialised by a
lock; a connection the server dropped is opened again at the next call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from matcher.adapters.checks import check_table

try:
    import psycopg
    from psycopg import sql
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError("PostgreSQL state needs psycopg: pip install 'chainmatch[server]'") from error

ORDER = "written_order"  # the schema's sequence that numbers every write
CONNECT_TIMEOUT_S = 10


class PostgresState:
    def __init__(self, url: str, *, schema: str = "chainmatch"):
        self._url = url
        self._schema = schema
        self._lock = threading.Lock()
        self._tables: set[str] = set()
        self._db = self._connect()

    def _connect(self) -> psycopg.Connection:
        # A server that does not answer fails the call in seconds (the callers retry), not in minutes.
        db = psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        try:
            with db.transaction():
                # Workers start together: one at a time creates what is missing, or two CREATE ... IF NOT
                # EXISTS can collide on the catalogue's unique index.
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._schema,))
                db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema)))
                db.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(sql.Identifier(self._schema, ORDER)))
        except BaseException:
            db.close()
            raise
        return db

    def _conn(self) -> psycopg.Connection:
        if self._db.closed or self._db.broken:
            self._db = self._connect()
        return self._db

    def _table(self, db: psycopg.Connection, table: str) -> sql.Identifier:
        name = sql.Identifier(self._schema, check_table(table))
        if table not in self._tables:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._schema,))
                db.execute(sql.SQL(
                    'CREATE TABLE IF NOT EXISTS {} (key TEXT COLLATE "C" PRIMARY KEY, doc TEXT NOT NULL, '
                    "written DOUBLE PRECISION NOT NULL, seq BIGINT NOT NULL DEFAULT nextval({}))").format(
                        name, sql.Literal(f'"{self._schema}".{ORDER}')))
                db.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (written, seq)").format(
                    sql.Identifier(f"{table}_written"), name))
            self._tables.add(table)
        return name

    def get_many(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            db = self._conn()
            rows = db.execute(sql.SQL("SELECT key, doc FROM {} WHERE key = ANY(%s)").format(self._table(db, table)),
                              (list(keys),))
            return {key: json.loads(doc) for key, doc in rows}

    def put(self, table: str, items: Mapping[str, dict[str, Any]]) -> None:
        self.write({table: items})

    def write(self, tables: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        with self._lock:
            db = self._conn()
            names = {table: self._table(db, table) for table in tables}
            now = time.time()
            order = sql.Literal(f'"{self._schema}".{ORDER}')
            with db.transaction(), db.cursor() as cursor:
                for table, items in tables.items():
                    # In key order, so two writers of the same keys take their row locks in one order.
                    cursor.executemany(
                        sql.SQL("INSERT INTO {} (key, doc, written) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
                                "SET doc = EXCLUDED.doc, written = EXCLUDED.written, seq = nextval({})").format(
                                    names[table], order),
                        [(key, json.dumps(items[key], ensure_ascii=False), now) for key in sorted(items)])

    def delete(self, table: str, keys: Sequence[str]) -> None:
        with self._lock:
            db = self._conn()
            db.execute(sql.SQL("DELETE FROM {} WHERE key = ANY(%s)").format(self._table(db, table)), (list(keys),))

    def items(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            db = self._conn()
            rows = db.execute(sql.SQL("SELECT key, doc FROM {} ORDER BY seq").format(self._table(db, table)))
            return [(key, json.loads(doc)) for key, doc in rows]

    def page(self, table: str, *, after: str | None = None, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            db = self._conn()
            rows = db.execute(sql.SQL("SELECT key, doc FROM {} WHERE key > %s ORDER BY key LIMIT %s").format(
                self._table(db, table)), (after if after is not None else "", limit))
            return [(key, json.loads(doc)) for key, doc in rows]

    def count(self, table: str) -> int:
        with self._lock:
            db = self._conn()
            return db.execute(sql.SQL("SELECT count(*) FROM {}").format(self._table(db, table))).fetchone()[0]

    def trim(self, table: str, *, keep: int, written_before: float) -> int:
        with self._lock:
            db = self._conn()
            name = self._table(db, table)
            with db.transaction():
                old = db.execute(sql.SQL("DELETE FROM {} WHERE written < %s").format(name), (written_before,)).rowcount
                over = db.execute(sql.SQL(
                    "DELETE FROM {0} WHERE key IN (SELECT key FROM {0} ORDER BY written DESC, seq DESC OFFSET %s)"
                ).format(name), (keep,)).rowcount
            return old + over

    def tables(self) -> list[str]:
        """The tables of the schema, made by any process (not part of the port: for the commands that
        look at the state as a whole, like `chainmatch replay`)."""
        with self._lock:
            rows = self._conn().execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                        "ORDER BY table_name", (self._schema,))
            return [name for (name,) in rows]

    def copy_from(self, schema: str, *, skip: Collection[str] = ()) -> None:
        """Copy the tables of another schema of the same database but those in `skip`, with when each row
        was written and in the order written (for `chainmatch replay`, which rebuilds in a new schema)."""
        with self._lock:
            db = self._conn()
            source = db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                (schema,)).fetchall()
            with db.transaction():
                for table in [table for (table,) in source if table not in skip]:
                    db.execute(sql.SQL("INSERT INTO {} (key, doc, written) SELECT key, doc, written FROM {} "
                                       "ORDER BY seq").format(self._table(db, table), sql.Identifier(schema, table)))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def swap_schemas(url: str, *, schema: str, replacement: str, keep_as: str) -> None:
    """In one transaction: `schema` becomes `keep_as` and `replacement` takes its name."""
    with psycopg.connect(url) as db, db.transaction():
        db.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(schema), sql.Identifier(keep_as)))
        db.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(replacement), sql.Identifier(schema)))


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url) as db:
        db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
