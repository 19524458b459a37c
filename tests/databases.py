"""The database each test runs on: a SQLite file by default, or a PostgreSQL database.

`make test` gives every test its own SQLite file. When CONTEST_SQLALCHEMY_DATABASE_URI names a
PostgreSQL server (`make test-postgres` points it at a throwaway cluster, see
tests/services/with-postgres-and-redis.sh), each test gets its own database on that server
instead, made from a migrated template with CREATE DATABASE ... TEMPLATE (a file copy, as on
SQLite) and dropped when the test ends; the URI's user needs CREATEDB. Either way the test
talks to a real database, never a stand-in.
"""

from __future__ import annotations

import hashlib
import os
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
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # FILE_COPY copies the template's files instead of logging every page: much faster for a
    # small database, which is all a test's is.
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}" STRATEGY FILE_COPY')
    _made.add(name)
    return _url(name)


def drop_made() -> None:
    """Drop every database this process made for tests (their connections are cut)."""
    while _made:
        _admin(f'DROP DATABASE IF EXISTS "{_made.pop()}" WITH (FORCE)')


def drop_template() -> None:
    if ON_POSTGRES:
        _admin(f'DROP DATABASE IF EXISTS "{_TEMPLATE}" WITH (FORCE)')


def _name_for(folder: Path) -> str:
    # Database names are at most 63 bytes; a digest of the folder is unique and short.
    return "contest_" + hashlib.sha1(str(folder).encode()).hexdigest()[:20]


def _url(name: str) -> str:
    return make_url(SERVER).set(database=name).render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    server: URL = make_url(SERVER).set(drivername="postgresql", database="postgres")
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql)
