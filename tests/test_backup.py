"""`flask backup` while entries keep arriving, and `flask restore` into an empty site.

Every test runs on the engine the suite runs on (SQLite, or PostgreSQL under `make
test-postgres`), except where it says why not: a SQLite backup is its snapshot file, which the
tests can read directly; a PostgreSQL dump is read through the database it was restored into.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from contest import create_app
from contest.core.extensions import db
from contest.services import backup
from contest.services.backup import postgres

from .conftest import _config, entry_form, stored_files
from .databases import ON_POSTGRES
from .photos import photo_bytes
from .server_helpers import query, receipts, stored_assets

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="about backups of SQLite sites")
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs a PostgreSQL server (make test-postgres)"
)
ENGINE = backup.PostgresDatabase if ON_POSTGRES else backup.SQLiteDatabase


def _url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


def _rows(url: str, receipts: set[str]) -> dict[str, tuple]:
    """The entry rows with these receipts, every column, read straight from the database."""
    rows = query(url, "SELECT receipt, * FROM entry")
    return {row[0]: row for row in rows if row[0] in receipts}


def _tables(app) -> list[str]:
    """The tables in a site's database (none while it has no database file yet)."""
    url = _url(app)
    if url.startswith("postgresql"):
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    elif not Path(make_url(url).database).exists():
        return []
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return sorted(row[0] for row in query(url, sql))


def _post_entry(app, n: int) -> None:
    response = app.test_client().post(
        "/submit",
        data=entry_form(media=photo_bytes(seed=8000 + n), email=f"later{n}@example.com"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)


class Uploader(threading.Thread):
    """Visitors posting entries one after another through the test client, until stopped."""

    def __init__(self, app, limit: int = 30) -> None:
        super().__init__(daemon=True)
        self.app, self.limit = app, limit
        self.accepted: list[str] = []
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        client = self.app.test_client()
        for n in range(self.limit):
            if self.stopping.is_set():
                return
            response = client.post(
                "/submit",
                data=entry_form(
                    media=photo_bytes(seed=7000 + n),
                    email=f"backup{n}@example.com",
                    phone=f"010-6000-{n:04d}",
                ),
                content_type="multipart/form-data",
                headers={"Accept": "application/json"},
            )
            if response.status_code != 201:
                self.failures.append(f"{response.status_code} {response.get_data(as_text=True)}")
                return
            self.accepted.append(response.get_json()["receipt"])

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count and time.monotonic() < deadline:
            assert not self.failures, self.failures
            time.sleep(0.02)
        assert len(self.accepted) >= count, (self.accepted, self.failures)


@pytest.fixture
def restored_app(tmp_path, monkeypatch):
    """A second, empty site with its own instance folder, database and upload folder."""
    root = tmp_path / "restored"
    monkeypatch.setenv("CONTEST_INSTANCE_PATH", str(root / "instance"))
    app = create_app(_config(root))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def sqlite_site(tmp_path, monkeypatch):
    """A site on a SQLite file whatever engine the suite runs on (not migrated yet)."""
    root = tmp_path / "sqlite-site"
    monkeypatch.setenv("CONTEST_INSTANCE_PATH", str(root / "instance"))
    app = create_app(_config(root, SQLALCHEMY_DATABASE_URI=f"sqlite:///{root / 'contest.db'}"))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_backup_taken_during_uploads_restores_its_snapshot_exactly(
    app, runner, restored_app, tmp_path, monkeypatch
):
    live_files = Path(app.config["UPLOAD_FOLDER"])
    out = tmp_path / "backup"
    uploader = Uploader(app)
    uploader.start()
    held = 0  # entries made to arrive while the backup was under way
    try:
        uploader.wait_for(3)
        if ON_POSTGRES:
            # Hold pg_dump back, its snapshot exported and the assets read, until two more
            # entries have committed: the dump must be the snapshot, not the database as it is
            # when pg_dump runs.
            real_dump = backup.PostgresDatabase.dump

            def dump_after_uploads_land(self, *args):
                uploader.wait_for(len(uploader.accepted) + 2)
                real_dump(self, *args)

            monkeypatch.setattr(backup.PostgresDatabase, "dump", dump_after_uploads_land)
            held += 2
        # Hold the backup between its snapshot and its file copy until two more entries have
        # arrived: their files are in storage when the copy runs, but they are not the snapshot's.
        real_snapshot = ENGINE.snapshot

        def snapshot_then_let_uploads_land(self, target):
            taken = real_snapshot(self, target)
            uploader.wait_for(len(uploader.accepted) + 2)
            return taken

        monkeypatch.setattr(ENGINE, "snapshot", snapshot_then_let_uploads_land)
        held += 2
        made = runner.invoke(args=["backup", "--out", str(out)])
        assert made.exit_code == 0, made.output
        uploader.wait_for(len(uploader.accepted) + 1)  # and uploads carry on after it
    finally:
        uploader.stopping.set()
        uploader.join(timeout=60)
    assert not uploader.failures, uploader.failures

    restored = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(out)])
    assert restored.exit_code == 0, restored.output
    assert "every file matches the manifest" in restored.output
    target_url = _url(restored_app)
    snapshot = stored_assets(target_url)
    if not ON_POSTGRES:  # the restored database is the backup's own file
        assert stored_assets(out / "contest.db") == snapshot
    in_snapshot = receipts(target_url)
    assert {a.receipt for a in snapshot} == in_snapshot
    # The entries of one moment: the first ones accepted, none of those held back.
    assert 3 <= len(in_snapshot) <= len(uploader.accepted) - held - 1
    assert in_snapshot == set(uploader.accepted[: len(in_snapshot)])
    # Exactly the snapshot's files, under their keys: none of the entries that came later.
    assert sorted(stored_files(out / "uploads")) == sorted(a.key for a in snapshot)
    manifest = backup.Manifest.read(out)
    assert manifest.entries == len(in_snapshot) and manifest.complete
    assert f"Backed up {len(in_snapshot)} entries and {len(snapshot)} files" in made.output

    assert _rows(target_url, in_snapshot) == _rows(_url(app), in_snapshot)
    target_files = Path(restored_app.config["UPLOAD_FOLDER"])
    assert sorted(stored_files(target_files)) == sorted(a.key for a in snapshot)
    for asset in snapshot:
        assert (target_files / asset.key).read_bytes() == (live_files / asset.key).read_bytes()
    doctor = restored_app.test_cli_runner().invoke(args=["doctor"])
    assert doctor.exit_code == 0, doctor.output
    # The restored site works: it shows a restored entry's receipt, and takes new entries.
    receipt = sorted(in_snapshot)[0]
    assert restored_app.test_client().get(f"/receipt/{receipt}").status_code == 200
    _post_entry(restored_app, 1)


def test_the_manifest_names_the_engine_and_its_copy(app, runner, submit, tmp_path):
    submit()
    out = tmp_path / "backup"
    assert runner.invoke(args=["backup", "--out", str(out)]).exit_code == 0
    written = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    database = written["database"]
    if ON_POSTGRES:
        assert written["format"] == 2 and database["engine"] == "postgresql"
        assert database["file"] == "contest.dump"
        assert database["pg_dump_version"] and database["server_version"]
        assert (out / "contest.dump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    else:  # still the format every version restores
        assert written["format"] == 1 and database["engine"] == "sqlite"
        assert database["file"] == "contest.db"
    assert (out / database["file"]).stat().st_size == database["size"]
    assert (out / database["file"]).stat().st_mode & 0o077 == 0


@sqlite_only
def test_a_sqlite_backup_from_before_the_engine_field_still_restores(
    app, runner, submit, restored_app, tmp_path
):
    submit()
    out = tmp_path / "backup"
    assert runner.invoke(args=["backup", "--out", str(out)]).exit_code == 0
    manifest = out / "manifest.json"
    written = json.loads(manifest.read_text(encoding="utf-8"))
    del written["database"]["engine"]  # as the first version wrote it
    manifest.write_text(json.dumps(written), encoding="utf-8")

    restored = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(out)])
    assert restored.exit_code == 0, restored.output
    assert receipts(_url(restored_app)) == receipts(_url(app))


@postgres_only
def test_a_backup_restores_only_into_a_site_on_its_own_engine(
    app, runner, submit, restored_app, sqlite_site, tmp_path
):
    submit()
    from_postgres = tmp_path / "from-postgres"
    assert runner.invoke(args=["backup", "--out", str(from_postgres)]).exit_code == 0
    into_sqlite = sqlite_site.test_cli_runner()
    refused = into_sqlite.invoke(args=["restore", "--from", str(from_postgres)])
    assert refused.exit_code == 1
    assert "a backup of a PostgreSQL database" in refused.output
    assert "this site runs on SQLite" in refused.output
    assert (
        _tables(sqlite_site) == [] and stored_files(Path(sqlite_site.config["UPLOAD_FOLDER"])) == []
    )

    assert into_sqlite.invoke(args=["init-db"]).exit_code == 0
    from_sqlite = tmp_path / "from-sqlite"
    assert into_sqlite.invoke(args=["backup", "--out", str(from_sqlite)]).exit_code == 0
    refused = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(from_sqlite)])
    assert refused.exit_code == 1
    assert "a backup of a SQLite database" in refused.output
    assert "this site runs on PostgreSQL" in refused.output
    assert _tables(restored_app) == []


def test_restore_refuses_a_site_that_is_not_empty_unless_forced(
    app, runner, submit, restored_app, tmp_path
):
    submit()
    out = tmp_path / "backup"
    assert runner.invoke(args=["backup", "--out", str(out)]).exit_code == 0
    restore = restored_app.test_cli_runner()
    assert restore.invoke(args=["restore", "--from", str(out)]).exit_code == 0
    target_files = Path(restored_app.config["UPLOAD_FOLDER"])
    before = stored_files(target_files)
    _post_entry(restored_app, 1)  # the restored site lives on, and takes an entry
    after = stored_files(target_files)

    again = restore.invoke(args=["restore", "--from", str(out)])
    assert again.exit_code == 1
    assert "not empty" in again.output and "--force" in again.output
    assert stored_files(target_files) == after
    assert len(receipts(_url(restored_app))) == len(receipts(_url(app))) + 1

    forced = restore.invoke(args=["restore", "--from", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    # The backup replaced all of it: the later entry and its files are gone.
    assert stored_files(target_files) == before
    assert receipts(_url(restored_app)) == receipts(_url(app))
    assert restore.invoke(args=["doctor"]).exit_code == 0
    _post_entry(restored_app, 2)  # and the replaced database carries on numbering its rows


def test_restore_refuses_stored_files_even_without_a_database(
    app, runner, submit, restored_app, tmp_path
):
    submit()
    out = tmp_path / "backup"
    assert runner.invoke(args=["backup", "--out", str(out)]).exit_code == 0
    stray = Path(restored_app.config["UPLOAD_FOLDER"]) / "originals" / "ab" / "abStray.jpg"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"someone else's photo")

    refused = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(out)])
    assert refused.exit_code == 1 and "not empty" in refused.output
    assert stray.read_bytes() == b"someone else's photo"
    assert _tables(restored_app) == []


@pytest.mark.parametrize("damaged", ["a file", "the database copy"])
def test_a_damaged_backup_is_refused_before_anything_is_written(
    damaged, app, runner, submit, restored_app, tmp_path
):
    submit()
    out = tmp_path / "backup"
    assert runner.invoke(args=["backup", "--out", str(out)]).exit_code == 0
    manifest = backup.Manifest.read(out)
    if damaged == "a file":
        name = next(f for f in manifest.files if f.role == "original").key
        path = out / "uploads" / name
    else:
        name = manifest.database_file
        path = out / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte off
    path.write_bytes(bytes(data))

    refused = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(out)])
    assert refused.exit_code == 1
    assert name in refused.output and "SHA-256" in refused.output
    assert stored_files(Path(restored_app.config["UPLOAD_FOLDER"])) == []
    assert _tables(restored_app) == []


def test_backup_wants_a_new_folder_and_a_database_it_knows(runner, tmp_path):
    out = tmp_path / "used"
    out.mkdir()
    (out / "something").write_text("x")
    refused = runner.invoke(args=["backup", "--out", str(out)])
    assert refused.exit_code == 1 and "not an empty folder" in refused.output

    with pytest.raises(backup.BackupError, match="SQLite and PostgreSQL databases"):
        backup.database_for("mysql://contest@db.internal/contest")
    with pytest.raises(backup.BackupError, match="not an SQLite database file"):
        backup.database_for("sqlite://")
    assert backup.database_for(f"sqlite:///{tmp_path}/c.db").path == tmp_path / "c.db"
    on_postgres = backup.database_for("postgresql+psycopg://contest@db.internal/contest")
    assert on_postgres.engine == "postgresql" and on_postgres.name == "contest"


def test_a_folder_without_a_manifest_is_not_restored(restored_app, tmp_path):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    refused = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(unfinished)])
    assert refused.exit_code == 1 and "no finished backup" in refused.output


# The PostgreSQL client tools -----------------------------------------------------------------
def _fake_tool(folder: Path, name: str, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / name
    tool.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    tool.chmod(0o755)
    return tool


def test_the_client_tools_come_from_path_or_the_newest_server_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(postgres, "TOOL_FOLDERS", str(tmp_path / "lib" / "*" / "bin"))
    with pytest.raises(backup.BackupError, match="pg_dump not found on PATH"):
        postgres.find_tool("pg_dump", 15, "the server's")

    _fake_tool(tmp_path / "lib" / "9.6" / "bin", "pg_dump", "9.6.24")
    newest = _fake_tool(tmp_path / "lib" / "16" / "bin", "pg_dump", "16.4")
    _fake_tool(tmp_path / "lib" / "15" / "bin", "pg_dump", "15.8")
    assert postgres.find_tool("pg_dump", 15, "the server's") == (str(newest), "16.4")

    on_path = _fake_tool(tmp_path / "bin", "pg_dump", "13.9 (Debian 13.9-0+deb11u1)")
    monkeypatch.setenv("PATH", str(on_path.parent))
    with pytest.raises(backup.BackupError, match=r"version 13.9, older than the server's \(15\)"):
        postgres.find_tool("pg_dump", 15, "the server's")


def test_the_password_reaches_the_client_tools_in_their_environment_only():
    conninfo, env = postgres.client_settings(
        "postgresql+psycopg://contest:s%40cret@db.internal:5433/contest?sslmode=require"
    )
    assert "s@cret" not in conninfo and env["PGPASSWORD"] == "s@cret"
    assert {"host=db.internal", "port=5433", "user=contest", "dbname=contest"} <= set(
        conninfo.split()
    )
    assert "sslmode=require" in conninfo


@postgres_only
def test_a_backup_with_a_password_never_puts_it_on_a_command_line(make_app, tmp_path, monkeypatch):
    # The test server trusts loopback connections, so any password is accepted.
    plain = make_app()
    url = make_url(_url(plain)).set(password="s3cret-pw").render_as_string(hide_password=False)
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    _post_entry(app, 1)
    real_run, commands = subprocess.run, []

    def recording_run(args, *rest, **options):
        commands.append((list(args), options.get("env") or {}))
        return real_run(args, *rest, **options)

    monkeypatch.setattr(subprocess, "run", recording_run)
    out = tmp_path / "backup"
    made = app.test_cli_runner().invoke(args=["backup", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert all("s3cret-pw" not in " ".join(args) for args, _ in commands)
    dumps = [env for args, env in commands if any(a.startswith("--snapshot=") for a in args)]
    assert len(dumps) == 1 and dumps[0]["PGPASSWORD"] == "s3cret-pw"


@postgres_only
def test_a_pg_dump_older_than_the_server_is_refused_before_anything_is_written(
    runner, tmp_path, monkeypatch
):
    old = _fake_tool(tmp_path / "bin", "pg_dump", "11.22")
    monkeypatch.setenv("PATH", str(old.parent))
    out = tmp_path / "backup"
    refused = runner.invoke(args=["backup", "--out", str(out)])
    assert refused.exit_code == 1
    assert "version 11.22, older than the server's" in refused.output
    assert not out.exists()
