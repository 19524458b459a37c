"""SQLite: a snapshot with the online backup API, restored by putting the file in place."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from contest.services.backup.common import ASSETS, BackupError, Manifest, Snapshot, seal, sha256_of
from contest.storage import fsync_path


def sqlite_path(uri: str) -> Path:
    """The file of an SQLite database URI; refuses anything else."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"not an SQLite database: {url.get_backend_name()}")
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"not an SQLite database file: {uri}")
    return Path(url.database)


class SQLiteDatabase:
    """A site's SQLite database file, as the backup flow sees it."""

    engine = "sqlite"
    label = "SQLite"
    dump_file = "contest.db"
    format = 1

    def __init__(self, path: Path) -> None:
        self.path = path

    def check_source(self) -> None:
        if not self.path.is_file():
            raise BackupError(f"no database at {self.path}.")

    def snapshot(self, target: Path) -> Snapshot:
        """Copy the live database to `target`, then read its assets from the copy."""
        snapshot_database(self.path, target)
        with closing(_read_only(target)) as conn:
            assets = conn.execute(ASSETS).fetchall()
            entries = conn.execute("SELECT count(*) FROM entry").fetchone()[0]
        return Snapshot(assets=assets, entries=entries)

    def check_dump(self, dump: Path, manifest: Manifest) -> list[str]:
        with closing(_read_only(dump)) as conn:
            named = {key for key, _, _ in conn.execute(ASSETS)}
        if named != manifest.listed:
            return [f"{dump.name}: names other files than the manifest lists"]
        return []

    def occupied(self) -> list[str]:
        found = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            if path.is_file() and path.stat().st_size > 0:
                found.append(f"database {path}")
        return found

    def clear(self) -> None:
        # A leftover -wal of the old database would be replayed into the restored one: remove all.
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def load(self, dump: Path) -> None:
        """Put the copy in place whole: written beside its place, then renamed over it."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        incoming = self.path.with_name(f".{self.path.name}.restoring")
        shutil.copyfile(dump, incoming)
        seal(incoming)
        os.replace(incoming, self.path)
        fsync_path(self.path.parent)

    def check_restored(self, manifest: Manifest) -> list[str]:
        if sha256_of(self.path) != manifest.database_sha256:
            return [f"{self.path}: not the backup's database"]
        return []


def snapshot_database(database: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database, made with its online backup API.

    The whole copy is one step (`pages=-1`), so it reads one snapshot; in WAL mode the site's
    writers carry on meanwhile. The copy is turned into a single self-contained file (no WAL).
    """
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
        result = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"{target}: the database copy failed its integrity check: {result}")
    finally:
        copy.close()
        source.close()
    seal(target)


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
