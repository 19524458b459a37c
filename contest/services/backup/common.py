"""What the shared backup flow and the engines' modules both use: the manifest and its parts."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from contest.storage import fsync_path

MANIFEST = "manifest.json"
FILES = "uploads"
# A manifest's format is the oldest reader that can restore it: 1 is a SQLite file (what every
# version reads, so SQLite backups keep writing it), 2 a dump that needs the `engine` field.
FORMATS = (1, 2)
ENGINES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
_CHUNK = 1024 * 1024
# The snapshot's stored files, with the hash of the entry each belongs to.
ASSETS = (
    "SELECT a.key, a.role, e.sha256 FROM asset a JOIN entry e ON e.id = a.entry_id ORDER BY a.id"
)


class BackupError(Exception):
    """A backup or restore that cannot (or must not) go ahead; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    """What one consistent read of the live database found, taken while its copy was made."""

    assets: list[tuple[str, str, str]]  # key, role, the entry's SHA-256
    entries: int
    about: dict[str, str] = field(default_factory=dict)  # recorded with the copy (versions)


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
    engine: str
    database_file: str
    database_size: int
    database_sha256: str
    files: list[BackedUpFile]
    # Keys the snapshot names whose file was gone (a lost original, or an entry withdrawn
    # between the snapshot and the copy), and originals whose bytes no longer match their entry.
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    about: dict[str, str] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.damaged

    @property
    def listed(self) -> set[str]:
        """Every key the snapshot named: the files in the backup and the missing ones."""
        return {f.key for f in self.files} | set(self.missing)

    def to_json(self, format: int) -> str:
        return json.dumps(
            {
                "format": format,
                "created_at": self.created_at,
                "counts": {
                    "entries": self.entries,
                    "files": len(self.files),
                    "bytes": self.total_bytes,
                },
                "database": {
                    "engine": self.engine,
                    "file": self.database_file,
                    "size": self.database_size,
                    "sha256": self.database_sha256,
                    **self.about,
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
        if data.get("format") not in FORMATS:
            raise BackupError(f"{path}: unknown backup format {data.get('format')!r}.")
        database = dict(data["database"])
        engine = database.pop("engine", "sqlite")  # format 1 backups were all SQLite
        name = database.pop("file")
        if engine not in ENGINES or Path(name).name != name or name in ("", ".", ".."):
            raise BackupError(f"{path}: not a database this version restores ({engine}, {name}).")
        return cls(
            created_at=data["created_at"],
            entries=data["counts"]["entries"],
            engine=engine,
            database_file=name,
            database_size=database.pop("size"),
            database_sha256=database.pop("sha256"),
            files=[BackedUpFile(**f) for f in data["files"]],
            missing=list(data.get("missing", [])),
            damaged=list(data.get("damaged", [])),
            about={k: str(v) for k, v in database.items()},
        )


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return measure(f)[1]


def measure(reader: BinaryIO) -> tuple[int, str]:
    """The size and SHA-256 of what a stream holds, read a chunk at a time."""
    digest, size = hashlib.sha256(), 0
    while chunk := reader.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def seal(path: Path) -> None:
    """Make a file the backup wrote private to its owner and durable."""
    os.chmod(path, 0o600)
    fsync_path(path)
