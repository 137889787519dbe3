"""Where the sandbox tenant lives: one SQLite database, in memory or in a file (`--data`).

Records are stored as JSON objects (numbers as exact strings, times as ISO strings), one row
per (entity, id), with an id sequence per entity. Nothing is cached in the process, so a file
changed by `billbridge sandbox approve-and-post` while the server runs is seen at once.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"
_DDL = (
    "CREATE TABLE IF NOT EXISTS records ("
    " entity TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY (entity, id))",
    "CREATE TABLE IF NOT EXISTS sequences (entity TEXT PRIMARY KEY, next_id INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class StoreError(Exception):
    """The data file cannot be used as a sandbox tenant."""


class Store:
    """Thread-safe access to the tenant's records (one connection, one lock)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._conn = sqlite3.connect(
                ":memory:" if path is None else str(path),
                check_same_thread=False,
                isolation_level=None,
                timeout=10.0,
            )
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _DDL:
                self._conn.execute(statement)
            version = self.meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a sandbox data file ({exc})") from exc
        if version is None:
            self.set_meta("schema_version", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise StoreError(f"{path}: sandbox data version {version}, expected {SCHEMA_VERSION}")

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All reads and writes inside are one atomic unit (re-entrant)."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def load(self, entity: str, item_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM records WHERE entity = ? AND id = ?", (entity, item_id)
            ).fetchone()
        return None if row is None else _loads(row[0])

    def load_all(self, entity: str) -> list[dict[str, Any]]:
        """Every record of `entity`, ordered by id."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT body FROM records WHERE entity = ? ORDER BY id", (entity,)
            ).fetchall()
        return [_loads(row[0]) for row in rows]

    def save(self, entity: str, item_id: int, body: dict[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO records (entity, id, body) VALUES (?, ?, ?)"
                " ON CONFLICT (entity, id) DO UPDATE SET body = excluded.body",
                (entity, item_id, json.dumps(body, separators=(",", ":"))),
            )

    def delete(self, entity: str, item_id: int) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM records WHERE entity = ? AND id = ?", (entity, item_id)
            )
        return cursor.rowcount > 0

    def next_id(self, entity: str, start: int) -> int:
        """The next id of `entity` (sequences start at `start`)."""
        with self.transaction():
            row = self._conn.execute(
                "SELECT next_id FROM sequences WHERE entity = ?", (entity,)
            ).fetchone()
            value = start if row is None else int(row[0])
            self._conn.execute(
                "INSERT INTO sequences (entity, next_id) VALUES (?, ?)"
                " ON CONFLICT (entity) DO UPDATE SET next_id = excluded.next_id",
                (entity, value + 1),
            )
        return value


def _loads(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise StoreError("corrupt record")
    return value
