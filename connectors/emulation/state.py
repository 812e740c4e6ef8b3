"""Emulator state: JSON documents in SQLite, in memory for tests or in a file that outlives
a killed callsync process (and the emulator itself).

Each collection keeps documents by id plus up to three indexed sort keys (``k1``..``k3``,
strings or numbers the emulator chooses, e.g. an ISO timestamp) and an owner column. ``seq`` is
the insertion order and breaks ties, so keyset pagination over ``(key, seq)`` is stable.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    coll TEXT NOT NULL,
    id TEXT NOT NULL,
    k1, k2, k3,
    owner TEXT,
    doc TEXT NOT NULL,
    UNIQUE (coll, id)
);
CREATE INDEX IF NOT EXISTS docs_k1 ON docs (coll, k1, seq);
CREATE INDEX IF NOT EXISTS docs_k2 ON docs (coll, k2, seq);
CREATE INDEX IF NOT EXISTS docs_k3 ON docs (coll, k3, seq);
CREATE INDEX IF NOT EXISTS docs_owner ON docs (coll, owner, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_KEYS = ("k1", "k2", "k3")


class StateDB:
    """One SQLite database shared by the collections of one emulator. Thread-safe."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute(
            "PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY"
        )
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self.lock = threading.RLock()

    def collection(self, name: str, keys: tuple[str, ...] = ()) -> Collection:
        """A collection whose documents expose ``keys`` (at most three) as sortable columns."""
        if len(keys) > len(_KEYS):
            raise ValueError("at most three indexed keys per collection")
        return Collection(self, name, keys)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.lock:
            return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.lock:
            self._conn.executemany(sql, rows)

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self.lock:
            self._conn.close()


class _Transaction:
    def __init__(self, db: StateDB) -> None:
        self._db = db

    def __enter__(self) -> StateDB:
        self._db.lock.acquire()
        self._db.execute("BEGIN")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._db.lock.release()


@dataclass(frozen=True)
class Stored:
    seq: int
    id: str
    doc: dict[str, Any]


class Collection:
    def __init__(self, db: StateDB, name: str, keys: tuple[str, ...]) -> None:
        self.db = db
        self.name = name
        self.keys = keys

    def _column(self, key: str) -> str:
        return _KEYS[self.keys.index(key)]

    def _values(self, doc: dict[str, Any]) -> list[Any]:
        values = [doc.get(key) for key in self.keys]
        return values + [None] * (len(_KEYS) - len(values))

    def put(self, id: str | int, doc: dict[str, Any], owner: str | int | None = None) -> int:
        """Insert or replace a document; returns its ``seq`` (kept on replace)."""
        k1, k2, k3 = self._values(doc)
        owner_text = None if owner is None else str(owner)
        body = json.dumps(doc, separators=(",", ":"))
        with self.db.lock:
            cursor = self.db.execute(
                "INSERT INTO docs (coll, id, k1, k2, k3, owner, doc) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT (coll, id) DO UPDATE SET k1=excluded.k1, k2=excluded.k2, "
                "k3=excluded.k3, owner=excluded.owner, doc=excluded.doc RETURNING seq",
                (self.name, str(id), k1, k2, k3, owner_text, body),
            )
            return int(cursor.fetchone()[0])

    def put_many(self, items: Iterable[tuple[str | int, dict[str, Any], str | int | None]]) -> None:
        """Insert or replace many ``(id, doc, owner)`` at once (seeding); no seqs returned."""
        rows = []
        for id_, doc, owner in items:
            k1, k2, k3 = self._values(doc)
            body = json.dumps(doc, separators=(",", ":"))
            rows.append(
                (self.name, str(id_), k1, k2, k3, None if owner is None else str(owner), body)
            )
        with self.db.lock:
            self.db.executemany(
                "INSERT INTO docs (coll, id, k1, k2, k3, owner, doc) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT (coll, id) DO UPDATE SET k1=excluded.k1, k2=excluded.k2, "
                "k3=excluded.k3, owner=excluded.owner, doc=excluded.doc",
                rows,
            )

    def next_seq(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM docs").fetchone()
        return int(row[0])

    def get(self, id: str | int) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT doc FROM docs WHERE coll = ? AND id = ?", (self.name, str(id))
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def seq_of(self, id: str | int) -> int | None:
        """The insertion position of document ``id`` (None if absent)."""
        row = self.db.execute(
            "SELECT seq FROM docs WHERE coll = ? AND id = ?", (self.name, str(id))
        ).fetchone()
        return None if row is None else int(row[0])

    def seq_at(self, offset: int, owner: str | int | None = None) -> int | None:
        """The seq of the ``offset``-th document (0-based) in insertion order, optionally of
        one owner: an index-only lookup, so deep offsets cost no document decoding."""
        sql, params = "SELECT seq FROM docs WHERE coll = ?", [self.name]
        if owner is not None:
            sql += " AND owner = ?"
            params.append(str(owner))
        sql += " ORDER BY seq LIMIT 1 OFFSET ?"
        row = self.db.execute(sql, (*params, offset)).fetchone()
        return None if row is None else int(row[0])

    def delete(self, id: str | int) -> bool:
        cursor = self.db.execute("DELETE FROM docs WHERE coll = ? AND id = ?", (self.name, str(id)))
        return cursor.rowcount > 0

    def count(self, owner: str | int | None = None) -> int:
        sql, params = "SELECT COUNT(*) FROM docs WHERE coll = ?", [self.name]
        if owner is not None:
            sql += " AND owner = ?"
            params.append(str(owner))
        return int(self.db.execute(sql, tuple(params)).fetchone()[0])

    def scan(
        self,
        *,
        order_by: str | None = None,
        descending: bool = False,
        gte: Any = None,
        gt: Any = None,
        lt: Any = None,
        lte: Any = None,
        after: tuple[Any, int] | None = None,
        owner: str | int | None = None,
        where: Callable[[dict[str, Any]], bool] | None = None,
        chunk: int = 500,
    ) -> Iterator[Stored]:
        """Documents in ``(order_by, seq)`` order, filtered on the key and then by ``where``.

        ``after`` is an exclusive keyset position ``(key value, seq)`` in the scan direction.
        Rows stream from SQLite in chunks, so a scan never loads a whole collection.
        """
        column = self._column(order_by) if order_by else "seq"
        position = after
        while True:
            sql, params = self._scan_sql(
                column, descending, gte, gt, lt, lte, position, owner, chunk
            )
            rows = self.db.execute(sql, params).fetchall()
            for seq, id_, key, body in rows:
                position = (key, seq)
                doc = json.loads(body)
                if where is None or where(doc):
                    yield Stored(seq, id_, doc)
            if len(rows) < chunk:
                return

    def _scan_sql(
        self,
        column: str,
        descending: bool,
        gte: Any,
        gt: Any,
        lt: Any,
        lte: Any,
        after: tuple[Any, int] | None,
        owner: str | int | None,
        chunk: int,
    ) -> tuple[str, tuple[Any, ...]]:
        clauses: list[str] = ["coll = ?"]
        params: list[Any] = [self.name]
        for op, value in ((">=", gte), (">", gt), ("<", lt), ("<=", lte)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        if owner is not None:
            clauses.append("owner = ?")
            params.append(str(owner))
        if after is not None:
            op = "<" if descending else ">"
            if column == "seq":
                clauses.append(f"seq {op} ?")
                params.append(after[1])
            else:
                clauses.append(f"({column} {op} ? OR ({column} = ? AND seq {op} ?))")
                params.extend([after[0], after[0], after[1]])
        direction = "DESC" if descending else "ASC"
        sql = (
            f"SELECT seq, id, {column}, doc FROM docs WHERE {' AND '.join(clauses)} "  # noqa: S608
            f"ORDER BY {column} {direction}, seq {direction} LIMIT {int(chunk)}"
        )
        return sql, tuple(params)

    def page(self, limit: int, **scan: Any) -> tuple[list[Stored], bool]:
        """Up to ``limit`` documents and whether more remain after them."""
        found: list[Stored] = []
        for item in self.scan(chunk=max(limit + 1, 50), **scan):
            if len(found) == limit:
                return found, True
            found.append(item)
        return found, False
