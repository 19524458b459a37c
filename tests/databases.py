"""The database each test runs on: a SQLite file by default, or a PostgreSQL database.

`make test` gives every test its own SQLite file. When CONTEST_SQLALCHEMY_DATABASE_URI names a
PostgreSQL server (`make test-postgres` points it at a throwaway cluster, see
tests/services/with-postgres-and-redis.sh), each test gets its own database on that server
instead, made from a migrated template with CREATE DATABASE ... TEMPLATE (a file copy, as on
SQLite) and dropped when the test ends; the URI's user needs CREATEDB. Either way the test
talks to a real database, never a stand-in.

On PostgreSQL a thread of each test process does that slow part off the tests' path
(`_Prepared`): it keeps copies of the template ready, which a test takes by renaming one, and
drops finished tests' databases.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import threading
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

SERVER = os.environ.get("CONTEST_SQLALCHEMY_DATABASE_URI", "")
ON_POSTGRES = SERVER.startswith("postgresql")
_TEMPLATE = f"contest_template_{os.getpid()}"
_made: set[str] = set()


def url_for(folder: Path) -> str:
    """The database of a test folder: its SQLite file, or an (empty at first) PostgreSQL one
    that is dropped when the test ends."""
    if not ON_POSTGRES:
        return f"sqlite:///{folder / 'contest.db'}"
    name = _name_for(folder)
    if name not in _made:
        _admin(f'CREATE DATABASE "{name}"')
        _made.add(name)
    return _url(name)


def site_url(root: Path) -> str:
    """An empty database for a site served by real processes (gunicorn, the job worker) from
    `root`: the SQLite file of its instance folder, or a PostgreSQL database that lives until
    `drop_site(root)`, so a site can outlive one test."""
    if not ON_POSTGRES:
        (root / "instance").mkdir(mode=0o700, parents=True, exist_ok=True)
        return f"sqlite:///{root / 'instance' / 'contest.db'}"
    name = _name_for(root / "site")
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    return _url(name)


def drop_site(root: Path) -> None:
    if ON_POSTGRES:
        _admin(f'DROP DATABASE IF EXISTS "{_name_for(root / "site")}" WITH (FORCE)')


def template_url(folder: Path) -> str:
    """Where the migrated, seeded template is built once per session."""
    if not ON_POSTGRES:
        return f"sqlite:///{folder / 'contest.db'}"
    _admin(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{_TEMPLATE}"')
    return _url(_TEMPLATE)


def copy_template(template: str, folder: Path) -> str:
    """Replace a test folder's database with a fresh copy of the template; returns its URL."""
    if not ON_POSTGRES:
        import shutil

        shutil.copyfile(make_url(template).database, folder / "contest.db")
        return url_for(folder)
    name = _name_for(folder)
    if name in _made:  # the test's earlier app, or the empty database url_for made
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'ALTER DATABASE "{_prepared().take()}" RENAME TO "{name}"')
    _made.add(name)
    return _url(name)


def drop_made() -> None:
    """Drop every database this process made for tests (their connections are cut), soon."""
    while _made:
        _prepared().drop_later(_made.pop())


def drop_template() -> None:
    global _preparing
    if ON_POSTGRES:
        if _preparing is not None:
            _preparing.close()
            _preparing = None
        _admin(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')


class _Prepared:
    """The slow database work of a test process, done by a thread of its own while the tests
    run: copies of the template made ahead (CREATE DATABASE ... TEMPLATE took 60-120 ms a test,
    a checkpoint included), and finished tests' databases dropped."""

    SPARES = 2

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._spares: list[str] = []
        self._doomed: list[str] = []
        self._closing = False
        self._copying = False  # from the first take: the template exists by then
        self._failure: BaseException | None = None
        self._names = (f"contest_spare_{os.getpid()}_{n}" for n in itertools.count())
        self._thread = threading.Thread(target=self._work, name="test-databases", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """A fresh copy of the template, nobody connected to it; waits for one if need be."""
        with self._changed:
            self._copying = True
            self._changed.notify_all()
            while not self._spares:
                if self._failure is not None:
                    raise RuntimeError("preparing test databases failed") from self._failure
                self._changed.wait()
            self._changed.notify_all()
            return self._spares.pop(0)

    def drop_later(self, name: str) -> None:
        with self._changed:
            self._doomed.append(name)
            self._changed.notify_all()

    def close(self) -> None:
        """Drop what is left: the spares and the databases not dropped yet."""
        with self._changed:
            if self._closing:
                return
            self._closing = True
            self._changed.notify_all()
        self._thread.join()
        for name in self._doomed + self._spares:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _work(self) -> None:
        try:
            while True:
                with self._changed:
                    while not (self._closing or self._doomed or self._short()):
                        self._changed.wait()
                    if self._closing:
                        return
                    # A test waiting for a copy comes first, then the drops.
                    waited_for = self._copying and not self._spares
                    doomed = self._doomed.pop(0) if self._doomed and not waited_for else None
                if doomed is not None:
                    _admin(f'DROP DATABASE IF EXISTS "{doomed}" WITH (FORCE)')
                    continue
                name = next(self._names)
                # FILE_COPY copies the template's files instead of logging every page: much
                # faster for a small database, which is all a test's is.
                _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}" STRATEGY FILE_COPY')
                with self._changed:
                    self._spares.append(name)
                    self._changed.notify_all()
        except BaseException as failure:  # noqa: BLE001  (handed to the test that waits)
            with self._changed:
                self._failure = failure
                self._changed.notify_all()

    def _short(self) -> bool:
        return self._copying and len(self._spares) < self.SPARES


_preparing: _Prepared | None = None


def _prepared() -> _Prepared:
    """This process's preparer (closed at the session's end by drop_template, or at exit)."""
    global _preparing
    if _preparing is None:
        _preparing = _Prepared()
        atexit.register(_preparing.close)
    return _preparing


def _name_for(folder: Path) -> str:
    # Database names are at most 63 bytes; a digest of the folder is unique and short.
    return "contest_" + hashlib.sha1(str(folder).encode()).hexdigest()[:20]


def _url(name: str) -> str:
    return make_url(SERVER).set(database=name).render_as_string(hide_password=False)


_admin_connections = threading.local()
_admin_opened: list[psycopg.Connection] = []


@atexit.register
def _close_admin_connections() -> None:
    for conn in _admin_opened:
        conn.close()


def _admin(sql: str) -> None:
    """Run one statement on the server's maintenance database, outside any transaction (as
    CREATE and DROP DATABASE must be).

    Each thread keeps its connection for the session: a test takes three of these statements
    (the copy made ahead, the rename, the drop), and a new connection costs the server about
    9 ms of CPU to start a backend, more than the rename itself."""
    conn = getattr(_admin_connections, "conn", None)
    if conn is None or conn.closed:
        server: URL = make_url(SERVER).set(drivername="postgresql", database="postgres")
        conn = psycopg.connect(server.render_as_string(hide_password=False), autocommit=True)
        _admin_connections.conn = conn
        _admin_opened.append(conn)  # kept past its thread's end, closed at exit
    conn.execute(sql)
