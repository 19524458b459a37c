"""Settings, the database connection, init-db and the secret key."""

from __future__ import annotations

import stat
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from contest import create_app
from contest.core import database
from contest.core.database import begin_write
from contest.core.extensions import db
from contest.models import Category, Contest, Entry, utcnow

from .conftest import _config
from .databases import ON_POSTGRES

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite connection settings")


def test_settings_come_from_defaults_then_environment_then_test_config(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEST_MAX_ENTRIES_PER_ENTRANT", "5")
    monkeypatch.setenv("CONTEST_PHOTO_MIN_LONG_SIDE", "800")
    app = create_app({**_config(tmp_path), "PHOTO_MIN_LONG_SIDE": 600})
    assert app.config["MAX_ENTRIES_PER_ENTRANT"] == 5  # environment over default
    assert app.config["PHOTO_MIN_LONG_SIDE"] == 600  # test_config over environment
    assert app.config["PHOTO_MAX_PIXELS"] == 100_000_000  # default


def test_environment_paths_arrive_as_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEST_UPLOAD_FOLDER", str(tmp_path / "media"))
    config = _config(tmp_path)
    del config["UPLOAD_FOLDER"]
    app = create_app(config)
    assert app.config["UPLOAD_FOLDER"] == tmp_path / "media"
    assert (tmp_path / "media" / "tmp").is_dir()


def test_without_a_secret_key_one_is_made_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEST_INSTANCE_PATH", str(tmp_path / "instance"))
    config = _config(tmp_path)
    del config["SECRET_KEY"]
    first = create_app(config)
    second = create_app(config)
    key_file = tmp_path / "instance" / "secret_key"
    assert len(first.config["SECRET_KEY"]) >= 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


@sqlite_only
def test_every_connection_gets_wal_a_busy_timeout_and_foreign_keys(app):
    with app.app_context():
        pragmas = {
            name: db.session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["busy_timeout"] >= 5000
    assert pragmas["foreign_keys"] == 1


def test_the_default_database_lives_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEST_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CONTEST_SQLALCHEMY_DATABASE_URI", raising=False)
    config = _config(tmp_path)
    del config["SQLALCHEMY_DATABASE_URI"]
    app = create_app(config)
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'contest.db'}"
    )


def test_init_db_seeds_the_fair_contest_once(app, runner):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "already exists" in result.output
    with app.app_context():
        contest = db.session.scalars(select(Contest)).one()
        kinds = db.session.scalars(select(Category.kind).order_by(Category.position)).all()
        assert contest.title == "정부3.0 체험마당 UCC 공모전"
        assert kinds == ["photo", "video"]
        assert contest.fair_starts_on <= contest.fair_ends_on
        assert contest.closes_at - contest.opens_at == timedelta(days=30)
        assert contest.opens_at <= utcnow()


def test_init_db_on_an_empty_folder_applies_the_migrations(tmp_path):
    app = create_app(_config(tmp_path))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["init-db"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count(Contest.id))) == 1
        version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version
        db.engine.dispose()


def test_writers_queue_for_the_lock_instead_of_failing(app):
    """Read-then-write transactions from many threads take turns, and none fails.

    With SQLite's default DEFERRED transactions, a writer that read before another writer
    committed fails at once with "database is locked"; on PostgreSQL two writers would both
    read the same count. begin_write takes the lock up front, so each waits its turn and
    every writer sees the count the one before it left.
    """
    with app.app_context():
        contest_id, category_id = db.session.execute(
            select(Category.contest_id, Category.id)
        ).first()
    errors: list[Exception] = []
    seen: list[int] = []

    def writer(n: int) -> None:
        with app.app_context():
            try:
                for i in range(5):
                    begin_write()
                    count = db.session.scalar(select(func.count(Entry.id)))
                    seen.append(count)
                    db.session.add(_entry(contest_id, category_id, f"{n:02d}{i:02d}{count:09d}"))
                    db.session.commit()
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(seen) == list(range(30))  # no two writers read the same state
    with app.app_context():
        assert db.session.scalar(select(func.count(Entry.id))) == 30


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's advisory write lock")
def test_a_writer_gives_up_on_a_stuck_lock_after_the_timeout(app, monkeypatch):
    monkeypatch.setattr(database, "WRITE_LOCK_TIMEOUT_MS", 300)
    outcome: list[BaseException | None] = []

    def writer() -> None:
        with app.app_context():
            try:
                begin_write()
                outcome.append(None)
            except OperationalError as error:
                outcome.append(error)
            finally:
                db.session.rollback()

    with app.app_context():
        holder = db.engine.connect()  # another server's writer that never finishes
        holder.execute(select(func.pg_advisory_lock(database.WRITE_LOCK_KEY)))
        try:
            waiting = threading.Thread(target=writer)
            waiting.start()
            waiting.join(timeout=5)  # without the timeout it would wait for ever
            assert not waiting.is_alive(), "begin_write still waiting after 5 s"
        finally:
            holder.execute(select(func.pg_advisory_unlock(database.WRITE_LOCK_KEY)))
            holder.close()
            waiting.join()
    assert len(outcome) == 1 and "lock timeout" in str(outcome[0])


def _entry(contest_id: int, category_id: int, tag: str) -> Entry:
    now = utcnow()
    return Entry(
        contest_id=contest_id,
        category_id=category_id,
        receipt=tag[:13],
        title="t",
        entrant_name="n",
        email=f"{tag}@example.com",
        phone=f"+8210{tag[:8]}",
        consent_version="v",
        consented_at=now,
        media_format="JPEG",
        width=1,
        height=1,
        file_size=1,
        sha256=tag.ljust(64, "0"),
    )


def test_migrations_go_down_and_up_and_match_the_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import downgrade, upgrade

    app = create_app(_config(tmp_path))
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        with db.engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), db.metadata)
        db.engine.dispose()
    assert drift == []
