"""Backups taken while the site runs, and restoring them, on SQLite or PostgreSQL.

A backup is a folder: the database as of one snapshot (`contest.db`, made with SQLite's online
backup API, or `contest.dump`, a `pg_dump` of an exported PostgreSQL snapshot; either way
visitors keep uploading while it runs); `uploads/`, exactly the files that the snapshot's asset
rows name, under their own keys (a file added after the snapshot belongs to a row the snapshot
lacks, so it is not copied); and `manifest.json`, written last, with the engine and every
file's size and SHA-256. A folder without a manifest is an unfinished backup and is never
restored. Restoring checks every byte against the manifest before it touches the target, puts
the files in place first and the database last (files follow the database), then checks again.
A backup restores only into a site on the same engine.

The flow here is the same for both engines; what differs (taking the snapshot, listing its
assets, refusing or emptying a target, loading the copy) is `SQLiteDatabase` (sqlite.py) or
`PostgresDatabase` (postgres.py), behind the `Database` protocol.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from sqlalchemy.engine import make_url

from contest.services.audit import audit
from contest.services.backup.common import (
    ENGINES,
    FILES,
    MANIFEST,
    BackedUpFile,
    BackupError,
    Manifest,
    Snapshot,
    measure,
    sha256_of,
)
from contest.services.backup.postgres import PostgresDatabase
from contest.services.backup.sqlite import SQLiteDatabase, snapshot_database, sqlite_path
from contest.storage import LocalStorage, Storage, fsync_path

__all__ = [
    "BackedUpFile",
    "BackupError",
    "Database",
    "Manifest",
    "PostgresDatabase",
    "Restored",
    "SQLiteDatabase",
    "Snapshot",
    "backup",
    "database_for",
    "restore",
    "snapshot_database",
    "sqlite_path",
    "verify",
]
_CHUNK = 1024 * 1024


class Database(Protocol):
    """One engine's part of backing up and restoring a site's database."""

    engine: str  # as the manifest records it: "sqlite", "postgresql"
    label: str  # for messages
    dump_file: str  # the database's copy in the backup folder
    format: int  # the manifest format its backups are written in

    def check_source(self) -> None:
        """Refuse early (before the backup folder is made) what would make the copy fail."""

    def snapshot(self, target: Path) -> Snapshot:
        """Copy the live database into `target` as of one moment, and say what it holds."""

    def check_dump(self, dump: Path, manifest: Manifest) -> list[str]:
        """Ways a copy whose bytes match the manifest still is not what it lists."""

    def occupied(self) -> list[str]:
        """What of a database already lives where a restore would put one."""

    def clear(self) -> None:
        """Remove that database (restore --force)."""

    def load(self, dump: Path) -> None:
        """Make the copy this site's database."""

    def check_restored(self, manifest: Manifest) -> list[str]:
        """Ways the restored database differs from the manifest."""


def database_for(uri: str) -> SQLiteDatabase | PostgresDatabase:
    """The backup side of the database a site's SQLALCHEMY_DATABASE_URI names."""
    backend = make_url(uri).get_backend_name()
    if backend == "sqlite":
        return SQLiteDatabase(sqlite_path(uri))
    if backend == "postgresql":
        return PostgresDatabase(uri)
    raise BackupError(
        f"backup and restore support SQLite and PostgreSQL databases; this site uses {backend}:"
        " use that database's own tools and copy the stored files."
    )


# Backing up -----------------------------------------------------------------------------------
def backup(database: Database, storage: Storage, out: Path, now: datetime) -> Manifest:
    """Copy the live database and exactly the files its snapshot refers to into `out`.

    `out` must be new or empty. Missing or damaged files do not stop the backup (it is most
    needed then): the manifest lists them, and `Manifest.complete` says so.
    """
    database.check_source()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} is not an empty folder; back up into a new one.")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    dump = out / database.dump_file
    snapshot = database.snapshot(dump)
    files, missing, damaged = [], [], []
    for key, role, entry_sha256 in snapshot.assets:
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
        entries=snapshot.entries,
        engine=database.engine,
        database_file=database.dump_file,
        database_size=dump.stat().st_size,
        database_sha256=sha256_of(dump),
        files=files,
        missing=missing,
        damaged=damaged,
        about=snapshot.about,
    )
    # Last: the backup is finished.
    _write_durably(out / MANIFEST, manifest.to_json(database.format).encode())
    return manifest


def record(manifest: Manifest, out: Path) -> None:
    """Write the backup to the audit log (the caller commits): `purge.backups_before` lists
    it, since a backup keeps the personal data a later purge erases."""
    audit(
        None,
        "backup",
        "site",
        None,
        {
            "folder": str(out.resolve()),
            "host": socket.gethostname(),
            "created_at": manifest.created_at,
            "complete": manifest.complete,
        },
    )


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


def restore(source: Path, database: Database, storage: Storage, force: bool = False) -> Restored:
    """Put a backup in place as this site's database and stored files.

    Refuses a target that holds a database or stored files unless `force`, which replaces
    them (the old database and every stored file go), and a backup of another engine. Nothing
    is touched unless the whole backup verifies first. The site must not be running on the
    target meanwhile.
    """
    manifest = Manifest.read(source)
    if manifest.engine != database.engine:
        theirs = ENGINES[manifest.engine]
        raise BackupError(
            f"{source} is a backup of a {theirs} database, and this site runs on"
            f" {database.label}: restore it into a site on {theirs}."
        )
    bad = verify(source, manifest, database)
    if bad:
        raise BackupError("the backup does not match its manifest:\n" + "\n".join(bad))
    occupied = database.occupied() + _stored_files(storage)
    if occupied and not force:
        raise BackupError(
            "the target is not empty (" + ", ".join(occupied) + "); restore into an empty"
            " database and upload folder, or pass --force to replace what is there."
        )
    if force:
        database.clear()
        _clear(storage)

    storage.ensure_folders()
    for item in manifest.files:
        with open(source / FILES / item.key, "rb") as data:
            storage.put(data, item.key)
    database.load(source / manifest.database_file)  # last, and whole

    bad = _verify_files(storage.open, manifest) + database.check_restored(manifest)
    if bad:
        raise BackupError("the restored copy does not match the manifest:\n" + "\n".join(bad))
    return Restored(
        entries=manifest.entries,
        files=len(manifest.files),
        total_bytes=manifest.total_bytes,
        missing=manifest.missing,
        damaged=manifest.damaged,
    )


def verify(folder: Path, manifest: Manifest, database: Database) -> list[str]:
    """Every way the backup in `folder` differs from its manifest (empty when intact)."""
    dump = folder / manifest.database_file
    if not dump.is_file():
        return [f"{manifest.database_file}: missing"]
    bad = []
    if dump.stat().st_size != manifest.database_size or (
        sha256_of(dump) != manifest.database_sha256
    ):
        bad.append(f"{manifest.database_file}: its size or SHA-256 differs from the manifest")
    else:
        bad.extend(database.check_dump(dump, manifest))
    return bad + _verify_files(lambda key: open(folder / FILES / key, "rb"), manifest)


def _verify_files(open_file: Callable[[str], BinaryIO], manifest: Manifest) -> list[str]:
    bad = []
    for item in manifest.files:
        try:
            with open_file(item.key) as reader:
                size, sha256 = measure(reader)
        except (FileNotFoundError, IsADirectoryError):
            bad.append(f"{item.key}: missing")
            continue
        if size != item.size or sha256 != item.sha256:
            bad.append(f"{item.key}: its size or SHA-256 differs from the manifest")
    return bad


def _stored_files(storage: Storage) -> list[str]:
    """Stored files already where the backup's would go."""
    if isinstance(storage, LocalStorage):
        if storage.root.is_dir() and any(p.is_file() for p in storage.root.rglob("*")):
            return [f"files in {storage.root}"]
    elif next(iter(storage.keys()), None) is not None:
        return [f"objects in s3://{storage.bucket}/{storage.prefix}"]
    return []


def _clear(storage: Storage) -> None:
    if isinstance(storage, LocalStorage):
        if storage.root.is_dir():
            for path in storage.root.rglob("*"):
                if path.is_file() or path.is_symlink():
                    path.unlink()
    else:
        for key in list(storage.keys()):
            storage.delete(key)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)
