"""`flask backup` while entries keep arriving, and `flask restore` into an empty site."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from contest import backup, create_app
from contest.extensions import db

from .conftest import _config, entry_form, stored_files
from .databases import ON_POSTGRES
from .photos import photo_bytes
from .server_helpers import stored_assets

# A PostgreSQL site is backed up with the database's own tools (docs/OPERATIONS.md): there the
# commands refuse, and only that refusal is tested.
sqlite_only = pytest.mark.skipif(
    ON_POSTGRES, reason="backup and restore use SQLite's online backup API"
)


def _rows(database: Path, receipts: set[str]) -> dict[str, tuple]:
    """The entry rows with these receipts, every column, read straight from the file."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT * FROM entry").fetchall()
        receipt = [c[0] for c in conn.execute("SELECT * FROM entry").description].index("receipt")
    return {row[receipt]: row for row in rows if row[receipt] in receipts}


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


@sqlite_only
def test_a_backup_taken_during_uploads_restores_its_snapshot_exactly(
    app, runner, restored_app, tmp_path, monkeypatch
):
    live_db = tmp_path / "contest.db"
    live_files = Path(app.config["UPLOAD_FOLDER"])
    out = tmp_path / "backup"
    uploader = Uploader(app)
    uploader.start()
    try:
        uploader.wait_for(3)
        # Hold the backup between its snapshot and its file copy until two more entries have
        # arrived: their files are on disk when the copy runs, but they are not the snapshot's.
        real_snapshot = backup.snapshot_database

        def snapshot_then_let_uploads_land(database, target):
            real_snapshot(database, target)
            uploader.wait_for(len(uploader.accepted) + 2)

        monkeypatch.setattr(backup, "snapshot_database", snapshot_then_let_uploads_land)
        made = runner.invoke(args=["backup", "--out", str(out)])
        assert made.exit_code == 0, made.output
        uploader.wait_for(len(uploader.accepted) + 1)  # and uploads carry on after it
    finally:
        uploader.stopping.set()
        uploader.join(timeout=60)
    assert not uploader.failures, uploader.failures

    snapshot = stored_assets(out / "contest.db")
    in_snapshot = {a.receipt for a in snapshot}
    assert 3 <= len(in_snapshot) <= len(uploader.accepted) - 3
    assert in_snapshot < set(uploader.accepted)
    # Exactly the snapshot's files, under their keys: none of the entries that came later.
    assert sorted(stored_files(out / "uploads")) == sorted(a.key for a in snapshot)
    manifest = backup.Manifest.read(out)
    assert manifest.entries == len(in_snapshot) and manifest.complete
    assert f"Backed up {len(in_snapshot)} entries and {len(snapshot)} files" in made.output

    restored = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(out)])
    assert restored.exit_code == 0, restored.output
    assert "every file matches the manifest" in restored.output
    target_db = Path(restored_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    target_files = Path(restored_app.config["UPLOAD_FOLDER"])
    assert stored_assets(target_db) == snapshot
    assert _rows(target_db, in_snapshot) == _rows(live_db, in_snapshot)
    assert sorted(stored_files(target_files)) == sorted(a.key for a in snapshot)
    for asset in snapshot:
        assert (target_files / asset.key).read_bytes() == (live_files / asset.key).read_bytes()
    doctor = restored_app.test_cli_runner().invoke(args=["doctor"])
    assert doctor.exit_code == 0, doctor.output
    # The restored site works: it shows a restored entry's receipt.
    receipt = sorted(in_snapshot)[0]
    assert restored_app.test_client().get(f"/receipt/{receipt}").status_code == 200


@sqlite_only
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

    again = restore.invoke(args=["restore", "--from", str(out)])
    assert again.exit_code == 1
    assert "not empty" in again.output and "--force" in again.output
    assert stored_files(target_files) == before

    forced = restore.invoke(args=["restore", "--from", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert stored_files(target_files) == before
    assert restore.invoke(args=["doctor"]).exit_code == 0


@sqlite_only
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


@sqlite_only
def test_a_damaged_backup_is_refused_before_anything_is_written(
    app, runner, submit, restored_app, tmp_path
):
    submit()
    out = tmp_path / "backup"
    assert runner.invoke(args=["backup", "--out", str(out)]).exit_code == 0
    original = next(f for f in backup.Manifest.read(out).files if f.role == "original")
    path = out / "uploads" / original.key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte off
    path.write_bytes(bytes(data))

    refused = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(out)])
    assert refused.exit_code == 1
    assert original.key in refused.output and "SHA-256" in refused.output
    assert stored_files(Path(restored_app.config["UPLOAD_FOLDER"])) == []


def test_backup_wants_a_new_folder_and_an_sqlite_database(runner, tmp_path):
    out = tmp_path / "used"
    out.mkdir()
    (out / "something").write_text("x")
    refused = runner.invoke(args=["backup", "--out", str(out)])
    why = "pg_dump" if ON_POSTGRES else "not an empty folder"
    assert refused.exit_code == 1 and why in refused.output

    with pytest.raises(backup.BackupError, match="SQLite databases only"):
        backup.sqlite_path("postgresql://contest@db.internal/contest")
    assert backup.sqlite_path(f"sqlite:///{tmp_path}/c.db") == tmp_path / "c.db"


@sqlite_only
def test_a_folder_without_a_manifest_is_not_restored(restored_app, tmp_path):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    refused = restored_app.test_cli_runner().invoke(args=["restore", "--from", str(unfinished)])
    assert refused.exit_code == 1 and "no finished backup" in refused.output
