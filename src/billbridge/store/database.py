"""Opening the database: engine, automatic migration, transactions."""

from __future__ import annotations

import ast
import fcntl
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from billbridge.store.schema import metadata
from billbridge.store.unit_of_work import UnitOfWork

MIGRATIONS = Path(__file__).with_name("migrations")


class StoreError(Exception):
    """The state store cannot be opened or used (a fatal error: fix the setting or the server)."""


class StoreBusyError(StoreError):
    """Another process holds the lock asked for (e.g. another export is running)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The state store of one billbridge installation.

    Opening it applies any pending migration, so a new database, or one written by an older
    billbridge, is ready without a separate command. A new (empty) database is created from
    `schema.py` at the newest revision directly, without Alembic: importing it and replaying
    every migration cost a first command a fifth of a second; a test checks both ways give the
    same tables.
    """

    def __init__(self, url: str, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.url = url
        self.clock = clock
        self.engine = _create_engine(url)
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.migrate()

    def migrate(self) -> None:
        try:
            head = _head_revision()
            if head is not None:
                current = self._current_revision()
                if current == head:
                    return  # the usual case, without importing Alembic (a tenth of a second)
                if current is None and self._create(head):
                    return
            self._upgrade()
        except OperationalError as exc:
            raise StoreError(
                f"cannot open the state store {self.safe_url}: {exc.orig or exc}"
            ) from None

    def _current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            try:
                found = connection.execute(text("SELECT version_num FROM alembic_version"))
                return found.scalar()
            except DBAPIError:  # no such table: a new database, which Alembic sets up
                return None

    def _create(self, head: str) -> bool:
        """Create the tables of an empty database and mark it as at `head` (Alembic's own
        recipe: `create_all`, then stamp); False if the database has tables already."""
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "sqlite":
                    # pysqlite runs DDL outside any transaction unless one is open; this one
                    # also makes a second process creating the same file wait, then see it.
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                if inspect(connection).get_table_names():
                    return False
                metadata.create_all(connection)
                connection.exec_driver_sql(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                    " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
                connection.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                    {"head": head},
                )
        except DBAPIError:
            # PostgreSQL: another process created the tables first (its DDL is transactional,
            # so they are all there, with the version, or none is)
            if self._current_revision() != head:
                raise
        return True

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            head = ScriptDirectory.from_config(config).get_current_head()
            if current != head:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as connection:
            yield UnitOfWork(connection, self.clock)

    @contextmanager
    def exclusive(self, name: str, *, wait_s: float = 0.0) -> Iterator[None]:
        """Hold a lock that only one process (and thread) using this store can hold.

        Exports take it so that two of them (the daily check and a click in the web admin, or
        two workers on one PostgreSQL) never write the same records at once. On PostgreSQL it
        is an advisory lock; on SQLite a lock on a file beside the database.
        """
        deadline = time.monotonic() + wait_s
        with self._guard:
            lock = self._thread_locks.setdefault(name, threading.Lock())
        acquired = lock.acquire(timeout=wait_s) if wait_s > 0 else lock.acquire(blocking=False)
        if not acquired:
            raise StoreBusyError(f"another {name} is running in this process")
        try:
            with self._process_lock(name, deadline):
                yield
        finally:
            lock.release()

    @contextmanager
    def _process_lock(self, name: str, deadline: float) -> Iterator[None]:
        if self.engine.dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
            with self.engine.connect() as connection:
                while not connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
                ).scalar():
                    if time.monotonic() >= deadline:
                        raise StoreBusyError(f"another {name} is running on this database")
                    time.sleep(0.2)
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    connection.commit()
            return
        database = make_url(self.url).database or ""
        if database in ("", ":memory:"):
            yield  # one process only: the thread lock is enough
            return
        # Resolved: the same database reached through a symlink (or a relative path) must take
        # the same lock.
        path = Path(f"{Path(database).expanduser().resolve()}.{name}.lock")
        with path.open("a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusyError(f"another {name} is running on {database}") from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        self.engine.dispose()


@cache
def _head_revision() -> str | None:
    """The newest migration's revision, read from the files without Alembic; `None` unless
    there is exactly one head (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target, value = _assignment(node)
            if target == "revision" and isinstance(value, str):
                revisions.add(value)
            elif target == "down_revision" and isinstance(value, str):
                parents.add(value)
            elif target == "down_revision" and isinstance(value, tuple | list):
                parents |= {str(parent) for parent in value}  # a merge revision
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _assignment(node: ast.stmt) -> tuple[str | None, object]:
    """`name = literal` (annotated or not) at a module's top level, as (name, value)."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value = node.target, node.value
    else:
        return None, None
    if not isinstance(target, ast.Name):
        return None, None
    try:
        return target.id, ast.literal_eval(value)
    except ValueError:
        return None, None


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"database.url is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            engine = create_engine(
                url, poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"database.url cannot be used: {exc}") from None


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL with synchronous=NORMAL survives a crash of billbridge (the failure that matters to
    # the journal); only a power loss may drop the last commits, and exports never rely on
    # the journal alone: they find records in Autotask by key.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
