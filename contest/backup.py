"""Backups taken while the site runs, and restoring them.

A backup is a folder: `contest.db`, a snapshot made with SQLite's online backup API (one read
transaction, so visitors keep uploading while it runs); `uploads/`, exactly the files that the
snapshot's asset rows name, under their own keys (a file added after the snapshot belongs to a
row the snapshot lacks, so it is not copied); and `manifest.json`, written last, with every
file's size and SHA-256. A folder without a manifest is an unfinished backup and is never
restored. Restoring checks every byte against the manifest before it touches the target, puts
the files in place first and the database last (files follow the database), then checks again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import make_url

from .storage import LocalStorage, Storage, fsync_path

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "contest.db"
FILES = "uploads"
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot (or must not) go ahead; the message says why."""


@dataclass(frozen=True)
class BackedUpFile:
    """One stored file in a backup."""

    key: str
    role: str
    size: int
    sha256: str


@dataclass
class Manifest:
    """What a backup holds, to verify it by before and after restoring."""

    created_at: str
    entries: int
    database_size: int
    database_sha256: str
    files: list[BackedUpFile]
    # Keys the snapshot names whose file was gone (a lost original, or an entry withdrawn
    # between the snapshot and the copy), and originals whose bytes no longer match their entry.
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.damaged

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "created_at": self.created_at,
                "counts": {
                    "entries": self.entries,
                    "files": len(self.files),
                    "bytes": self.total_bytes,
                },
                "database": {
                    "file": DATABASE,
                    "size": self.database_size,
                    "sha256": self.database_sha256,
                },
                "files": [asdict(f) for f in self.files],
                "missing": self.missing,
                "damaged": self.damaged,
            },
            indent=1,
            ensure_ascii=False,
        )

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of a finished backup in `folder`."""
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BackupError(f"{folder} holds no finished backup (no {MANIFEST}).") from None
        except (OSError, ValueError) as why:
            raise BackupError(f"cannot read {path}: {why}") from None
        if data.get("format") != FORMAT:
            raise BackupError(f"{path}: unknown backup format {data.get('format')!r}.")
        return cls(
            created_at=data["created_at"],
            entries=data["counts"]["entries"],
            database_size=data["database"]["size"],
            database_sha256=data["database"]["sha256"],
            files=[BackedUpFile(**f) for f in data["files"]],
            missing=list(data.get("missing", [])),
            damaged=list(data.get("damaged", [])),
        )


def sqlite_path(uri: str) -> Path:
    """The file of an SQLite database URI; refuses any other database."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            f"backup and restore support SQLite databases only for now; this site uses"
            f" {url.get_backend_name()}: use that database's own tools (pg_dump, ...)"
            " and copy the upload folder."
        )
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BackupError(f"not an SQLite database file: {uri}")
    return Path(url.database)


# Backing up -----------------------------------------------------------------------------------
def backup(database: Path, storage: Storage, out: Path, now: datetime) -> Manifest:
    """Copy the live database and exactly the files its snapshot refers to into `out`.

    `out` must be new or empty. Missing or damaged files do not stop the backup (it is most
    needed then): the manifest lists them, and `Manifest.complete` says so.
    """
    if not database.is_file():
        raise BackupError(f"no database at {database}.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} is not an empty folder; back up into a new one.")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    snapshot = out / DATABASE
    snapshot_database(database, snapshot)
    files, missing, damaged = [], [], []
    for key, role, entry_sha256 in _assets_of(snapshot):
        try:
            copied = _copy_file(storage, key, out / FILES / key, role)
        except FileNotFoundError:
            missing.append(key)
            continue
        if role == "original" and copied.sha256 != entry_sha256:
            damaged.append(key)
        files.append(copied)
    manifest = Manifest(
        created_at=now.isoformat(),
        entries=_count_entries(snapshot),
        database_size=snapshot.stat().st_size,
        database_sha256=_sha256(snapshot),
        files=files,
        missing=missing,
        damaged=damaged,
    )
    _write_durably(out / MANIFEST, manifest.to_json().encode())  # last: the backup is finished
    return manifest


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
        _check_integrity(copy, target)
    finally:
        copy.close()
        source.close()
    os.chmod(target, 0o600)
    fsync_path(target)


def _assets_of(snapshot: Path) -> list[tuple[str, str, str]]:
    with closing(_read_only(snapshot)) as conn:
        return conn.execute(
            "SELECT a.key, a.role, e.sha256 FROM asset a JOIN entry e ON e.id = a.entry_id"
            " ORDER BY a.id"
        ).fetchall()


def _count_entries(snapshot: Path) -> int:
    with closing(_read_only(snapshot)) as conn:
        return conn.execute("SELECT count(*) FROM entry").fetchone()[0]


def _copy_file(storage: Storage, key: str, target: Path, role: str) -> BackedUpFile:
    """Copy one stored file, hashing the bytes as they are written."""
    digest = hashlib.sha256()
    size = 0
    with storage.open(key) as reader:  # opened first: a vanished file leaves no trace
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    return BackedUpFile(key=key, role=role, size=size, sha256=digest.hexdigest())


# Restoring ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Restored:
    """What a restore put in place, all of it checked against the manifest."""

    entries: int
    files: int
    total_bytes: int
    missing: list[str]
    damaged: list[str]


def restore(source: Path, database: Path, storage: Storage, force: bool = False) -> Restored:
    """Put a backup in place as this site's database and stored files.

    Refuses a target that holds a database or stored files unless `force`, which replaces
    them (the old database and every stored file go). Nothing is touched unless the whole
    backup verifies first. The site must not be running on the target meanwhile.
    """
    manifest = Manifest.read(source)
    snapshot = source / DATABASE
    bad = verify(source, manifest)
    if bad:
        raise BackupError("the backup does not match its manifest:\n" + "\n".join(bad))
    occupied = _occupied(database, storage)
    if occupied and not force:
        raise BackupError(
            "the target is not empty (" + ", ".join(occupied) + "); restore into an empty"
            " instance and upload folder, or pass --force to replace what is there."
        )
    if force:
        _clear(database, storage)

    storage.ensure_folders()
    for item in manifest.files:
        with open(source / FILES / item.key, "rb") as data:
            storage.put(data, item.key)
    # The database goes last and whole: written beside its place, then renamed over it.
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    incoming = database.with_name(f".{database.name}.restoring")
    shutil.copyfile(snapshot, incoming)
    os.chmod(incoming, 0o600)
    fsync_path(incoming)
    os.replace(incoming, database)
    fsync_path(database.parent)

    bad = _verify_files(storage.open, manifest)
    if _sha256(database) != manifest.database_sha256:
        bad.append(f"{database}: not the backup's database")
    if bad:
        raise BackupError("the restored copy does not match the manifest:\n" + "\n".join(bad))
    return Restored(
        entries=manifest.entries,
        files=len(manifest.files),
        total_bytes=manifest.total_bytes,
        missing=manifest.missing,
        damaged=manifest.damaged,
    )


def verify(folder: Path, manifest: Manifest) -> list[str]:
    """Every way the backup in `folder` differs from its manifest (empty when intact)."""
    snapshot = folder / DATABASE
    if not snapshot.is_file():
        return [f"{DATABASE}: missing"]
    bad = []
    if snapshot.stat().st_size != manifest.database_size or (
        _sha256(snapshot) != manifest.database_sha256
    ):
        bad.append(f"{DATABASE}: its size or SHA-256 differs from the manifest")
    else:
        listed = {f.key for f in manifest.files} | set(manifest.missing)
        named = {key for key, _, _ in _assets_of(snapshot)}
        if listed != named:
            bad.append(f"{DATABASE}: names other files than the manifest lists")
    return bad + _verify_files(lambda key: open(folder / FILES / key, "rb"), manifest)


def _verify_files(open_file: Callable[[str], BinaryIO], manifest: Manifest) -> list[str]:
    bad = []
    for item in manifest.files:
        try:
            with open_file(item.key) as reader:
                size, sha256 = _measure(reader)
        except (FileNotFoundError, IsADirectoryError):
            bad.append(f"{item.key}: missing")
            continue
        if size != item.size or sha256 != item.sha256:
            bad.append(f"{item.key}: its size or SHA-256 differs from the manifest")
    return bad


def _occupied(database: Path, storage: Storage) -> list[str]:
    """What already lives where the backup would go."""
    found = []
    for path in (database, database.with_name(database.name + "-wal")):
        if path.is_file() and path.stat().st_size > 0:
            found.append(f"database {path}")
    if isinstance(storage, LocalStorage):
        if storage.root.is_dir() and any(p.is_file() for p in storage.root.rglob("*")):
            found.append(f"files in {storage.root}")
    elif next(iter(storage.keys()), None) is not None:
        found.append(f"objects in s3://{storage.bucket}/{storage.prefix}")
    return found


def _clear(database: Path, storage: Storage) -> None:
    # A leftover -wal of the old database would be replayed into the restored one: remove all.
    for suffix in ("", "-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    if isinstance(storage, LocalStorage):
        if storage.root.is_dir():
            for path in storage.root.rglob("*"):
                if path.is_file() or path.is_symlink():
                    path.unlink()
    else:
        for key in list(storage.keys()):
            storage.delete(key)


# Helpers --------------------------------------------------------------------------------------
def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path}: the database copy failed its integrity check: {result}")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return _measure(f)[1]


def _measure(reader: BinaryIO) -> tuple[int, str]:
    """The size and SHA-256 of what a stream holds, read a chunk at a time."""
    digest, size = hashlib.sha256(), 0
    while chunk := reader.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)
