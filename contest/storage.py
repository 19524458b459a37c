"""Where entry files live: a small interface over the upload folder, so views never touch paths.

Files are written to a temporary name in the same filesystem, fsynced, then renamed into place,
so a final name never holds a half-written file. Keys are server-chosen random names; the
visitor's file name is never part of a path. An S3-compatible backend can implement the same
methods (put, open, delete, exists, keys) without any view changing.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flask import Flask, current_app

TMP_DIR = "tmp"
_CHUNK = 1024 * 1024


class LocalStorage:
    """Entry files in a folder on the local disk (the default, and what the tests use)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / TMP_DIR

    def ensure_folders(self) -> None:
        """Create the storage folders; only the app's own user may read them."""
        for folder in (self.root, self.tmp):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    # Keys --------------------------------------------------------------------------------
    @staticmethod
    def new_key(prefix: str, extension: str) -> str:
        """A fresh random key like "originals/k3/k3Jd...Q.jpg" (sharded: folders stay small)."""
        token = secrets.token_urlsafe(18)  # 144 bits: unguessable, and reveals nothing
        return f"{prefix}/{token[:2].lower()}/{token}{extension}"

    def path(self, key: str) -> Path:
        """The local path of a key; refuses keys that would leave the storage folder."""
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents or key.startswith(TMP_DIR + "/"):
            raise ValueError(f"not a storage key: {key!r}")
        return path

    # Writing -----------------------------------------------------------------------------
    def temp_file(self) -> tuple[Path, BinaryIO]:
        """A new temporary file for an incoming upload, named after this process.

        The process id in the name lets `doctor` tell a live upload from one a crash left behind.
        """
        path = self.tmp / f"upload-{os.getpid()}-{secrets.token_hex(8)}.part"
        return path, open(path, "xb+")  # noqa: SIM115 - the caller owns and closes it

    def put(self, data: bytes | BinaryIO, key: str) -> int:
        """Store bytes or a stream under `key`, atomically; returns the size written."""
        tmp_path, tmp = self.temp_file()
        try:
            with tmp:
                if isinstance(data, bytes):
                    tmp.write(data)
                else:
                    shutil.copyfileobj(data, tmp, _CHUNK)
                size = tmp.tell()
                tmp.flush()
                os.fsync(tmp.fileno())
            self._move_into_place(tmp_path, key)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        return size

    def adopt(self, tmp_path: Path, key: str) -> None:
        """Move a finished temporary file (see `temp_file`) to `key` without copying its bytes."""
        with open(tmp_path, "rb") as written:
            os.fsync(written.fileno())
        self._move_into_place(tmp_path, key)

    def _move_into_place(self, tmp_path: Path, key: str) -> None:
        final = self.path(key)
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(tmp_path, 0o600)
        if final.exists():  # keys are random: a clash means a bug, never overwrite
            raise FileExistsError(errno.EEXIST, "storage key already used", key)
        os.replace(tmp_path, final)
        fsync_path(final.parent)  # the rename itself must survive a power cut

    # Reading and deleting ----------------------------------------------------------------
    def open(self, key: str) -> BinaryIO:
        """Open a stored file for reading."""
        return open(self.path(key), "rb")  # noqa: SIM115 - the caller owns and closes it

    def exists(self, key: str) -> bool:
        """Whether a file is stored under `key`."""
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        """The size in bytes of a stored file."""
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        """Remove a stored file; a file already gone is not an error."""
        self.path(key).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        """Every stored key (temporary files excluded)."""
        for path in self.root.rglob("*"):
            relative = path.relative_to(self.root)
            if path.is_file() and relative.parts[0] != TMP_DIR and not path.name.startswith("."):
                yield relative.as_posix()

    def temp_files(self) -> Iterator[Path]:
        """Temporary files: uploads in flight, or left behind by a crash."""
        return (p for p in self.tmp.iterdir() if p.is_file())


def fsync_path(path: Path) -> None:
    """Flush a file or a folder (a rename is durable only once its folder is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def init_app(app: Flask) -> None:
    """Attach the configured storage to the app and make sure its folders exist."""
    storage = LocalStorage(Path(app.config["UPLOAD_FOLDER"]))
    storage.ensure_folders()
    app.extensions["contest.storage"] = storage


def get_storage() -> LocalStorage:
    """The storage of the current app."""
    return current_app.extensions["contest.storage"]
