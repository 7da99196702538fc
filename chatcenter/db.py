"""Database engine and sessions, shared by the web app, the worker and the CLI."""
from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from chatcenter.config import PROJECT_ROOT


def resolve_database_url(url: str) -> str:
    """Anchor a relative SQLite path at the project root and make its folder exist."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return parsed.set(database=str(path)).render_as_string(hide_password=False)
    return url


def make_engine(url: str, **kwargs) -> Engine:
    url = resolve_database_url(url)
    backend = make_url(url).get_backend_name()
    connect_args = dict(kwargs.pop("connect_args", {}))
    if backend == "postgresql":
        # A database that is down must fail a request fast, not hang it.
        connect_args.setdefault("connect_timeout", 3)
    elif backend == "sqlite":
        connect_args.setdefault("timeout", 5)  # seconds to wait on a locked database
    # hide_parameters: SQLAlchemy's error text would otherwise carry the bound values
    # (buyers' messages, tokens) into logs, RQ's failure records and Sentry.
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True,
                           connect_args=connect_args, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    _ENGINES.add(engine)
    return engine


# A forked child (RQ's work-horse) must not reuse its parent's pooled connections: the
# two processes would talk over one socket. The child starts with fresh pools.
_ENGINES: "weakref.WeakSet[Engine]" = weakref.WeakSet()
os.register_at_fork(after_in_child=lambda: [e.dispose(close=False) for e in list(_ENGINES)])


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web app read while a worker writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# Execution option of a transaction that must hold the write lock from its first statement.
WRITE_LOCK = "chatcenter_write_lock"


def _sqlite_begin(conn) -> None:
    """BEGIN IMMEDIATE for a transaction that asked for the write lock (SQLAlchemy's pysqlite
    recipe for controlling BEGIN). pysqlite itself begins only at the first INSERT or UPDATE,
    and `SELECT ... FOR UPDATE` is a no-op on SQLite: two transactions that each check for
    the other's row before writing (a sync storing WB's echo of a reply, the reply job
    storing that reply) would both miss it. Other transactions keep pysqlite's own late
    BEGIN: a read-then-write transaction begun early could fail on a concurrent commit
    instead of waiting for it, so the whole recipe is not applied to every transaction."""
    if conn.get_execution_options().get(WRITE_LOCK):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# SQLite's result codes that mean the file cannot be used now (locked, missing, unreadable,
# full), as opposed to a statement that cannot work (SQLITE_ERROR: no such table, syntax).
_SQLITE_AWAY = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL",
                "SQLITE_NOTADB", "SQLITE_PERM", "SQLITE_READONLY", "SQLITE_PROTOCOL")


def is_outage(exc: SQLAlchemyError) -> bool:
    """The database cannot be reached or used at the moment (try again later), rather than a
    statement of ours failing (a bug)."""
    if isinstance(exc, PoolTimeout):  # every pooled connection busy past the pool's timeout
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:  # SQLAlchemy saw the connection drop
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    sqlite_code = getattr(exc.orig, "sqlite_errorname", None)
    if sqlite_code is not None:
        return sqlite_code.startswith(_SQLITE_AWAY)
    # PostgreSQL: operational errors are the server's or the connection's (refused, gone,
    # shutting down, out of disk, a statement timeout), never a statement of ours.
    return True


class Database:
    def __init__(self, url: str, **engine_kwargs):
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # Reads of one request need no transaction: autocommit spares the BEGIN and COMMIT
        # round trips (the connection and its pool are the same). Used per request by
        # chatcenter/web/reads.py.
        self.readmaker = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                      expire_on_commit=False)

    @contextmanager
    def session(self, write_lock: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error. `write_lock`: on
        SQLite the transaction takes the database's write lock at its start (PostgreSQL
        locks rows with FOR UPDATE instead), for check-then-insert transactions that
        another process may run on the same rows at the same moment."""
        session = self.sessionmaker()
        try:
            if write_lock:
                session.connection(execution_options={WRITE_LOCK: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
