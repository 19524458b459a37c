"""Connection settings, and write transactions that take the write lock up front.

SQLite is the embedded default; PostgreSQL is the scale-out path (several app servers on one
database). The app's check-then-write steps (an entrant's quota, the duplicate check, the last
admin, the one open round) rely on `begin_write` making writers take turns, on either engine.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from contest.core.extensions import db

_IMMEDIATE = "contest_begin_immediate"
_WROTE = "contest.transaction_wrote"
# The file_transactions lists live in session.info under keys with this prefix.
PENDING_FILES_PREFIX = "contest.files."
# The PostgreSQL advisory lock that `begin_write` holds until the transaction ends (any 64-bit
# number no other code of this database uses; advisory locks are scoped to one database).
WRITE_LOCK_KEY = 0x636F6E74657374  # "contest"
WRITE_LOCK_TIMEOUT_MS = 10_000  # as SQLite's busy_timeout below


def init_app(app: Flask) -> None:
    """Give every SQLite connection the pragmas and transaction control the app relies on."""
    if not event.contains(db.session, "after_flush", _note_written):
        event.listen(db.session, "after_flush", _note_written)
        event.listen(db.session, "after_transaction_end", _forget_written)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)


def _configure_sqlite_connection(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the sqlite3 module, emit BEGIN: the module's own implicit BEGIN is
    # always DEFERRED, and we need IMMEDIATE for writes (see begin_write).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    # Writers queue for up to 10 s instead of failing.
    cursor.execute(f"PRAGMA busy_timeout={WRITE_LOCK_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL syncs the WAL at every commit: an entry we answered "accepted" survives a power cut.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.in_transaction:
        # A COMMIT that SQLite refused (a deferred constraint, a full disk) leaves its
        # transaction open, yet SQLAlchemy returns the connection to the pool as if it had
        # ended; without this the next request on it would fail with "cannot start a
        # transaction within a transaction".
        dbapi_connection.rollback()
    if conn.get_execution_options().get(_IMMEDIATE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def begin_write(site_lock: bool = True) -> None:
    """Start this session's transaction as a write that holds the write lock from the start.

    SQLite: in WAL mode a DEFERRED transaction that reads and then writes fails at once with
    "database is locked" when another writer committed in between, whatever the busy timeout;
    BEGIN IMMEDIATE instead waits its turn on the busy handler.

    PostgreSQL: at READ COMMITTED two writers could both pass a check (say, an entrant's quota)
    before either inserts, so the transaction takes one advisory lock, released at its end. The
    writers queue for it exactly as on SQLite; the slow work (decoding, storing files) is done
    before `begin_write`, so the lock is held for milliseconds.

    `site_lock=False` is for a short write that locks only the rows it selects with
    `with_for_update()` (one upload's row while a piece of it is claimed or recorded): on
    PostgreSQL it takes no advisory lock, so it never waits on, nor holds up, the site's other
    writers; SQLite has one writer at a time whatever, so there it is the same BEGIN IMMEDIATE.

    A read-only transaction already open in the session is ended first: it has nothing to
    keep. One that wrote anything is refused with an error, never committed here: its work
    belongs to whoever started it, and committing it would end its file clean-ups too.
    """
    session = db.session()
    if _has_work(session):
        raise RuntimeError("begin_write() would end work it did not start (rows or files)")
    if session.in_transaction():
        session.rollback()
    connection = db.session.connection(execution_options={_IMMEDIATE: True})
    if connection.dialect.name == "postgresql":
        # Wait for the lock as long as SQLite's busy timeout, then fail rather than hang.
        db.session.execute(text(f"SET LOCAL lock_timeout = '{WRITE_LOCK_TIMEOUT_MS}ms'"))
        if site_lock:
            db.session.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK_KEY)))


@contextmanager
def write_transaction(site_lock: bool = True) -> Iterator[None]:
    """A view's or a command's write: the write lock, the change, then one commit.

    `site_lock=False`: only the rows the change locks itself (see `begin_write`).

    On any exception (a `Refusal` included) the transaction is rolled back, so nothing of the
    change stays, and the exception goes on to the caller:

        try:
            with write_transaction():
                rounds.reopen_round(round_, g.user)
        except Refusal as why:
            ...
    """
    begin_write(site_lock)
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def _has_work(session: Session) -> bool:
    """Whether the open transaction holds anything that a rollback would lose."""
    pending_files = any(
        key.startswith(PENDING_FILES_PREFIX) and session.info[key] for key in session.info
    )
    return bool(
        session.new or session.dirty or session.deleted or session.info.get(_WROTE) or pending_files
    )


def _note_written(session: Session, _context) -> None:
    session.info[_WROTE] = True


def _forget_written(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
