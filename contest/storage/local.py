"""Entry files in a folder on the local disk: the default backend, and what most tests use.

Files are written to a temporary name in the same filesystem, fsynced, then renamed into place,
so a final name never holds a half-written file. Keys are server-chosen random names; the
visitor's file name is never part of a path.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from contest.storage.common import TMP_DIR, TempFolder, check_key

_CHUNK = 1024 * 1024


class LocalStorage(TempFolder):
    """Entry files in a folder on the local disk; its `tmp/` holds the uploads in flight."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        super().__init__(self.root / TMP_DIR)

    def ensure_folders(self) -> None:
        """Create the storage folders; only the app's own user may read them."""
        for folder in (self.root, self.tmp):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The local path of a key; refuses keys that would leave the storage folder."""
        path = (self.root / check_key(key)).resolve()
        if self.root.resolve() not in path.parents or key.startswith(TMP_DIR + "/"):
            raise ValueError(f"not a storage key: {key!r}")
        return path

    # Writing -----------------------------------------------------------------------------
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

    def ready_to_adopt(self, tmp_path: Path) -> None:
        """Flush a temporary file that may be adopted soon, ahead of time (from any thread).

        `adopt` flushes it again, then at no cost: a submission calls this while its photo
        is decoded, so the tens of milliseconds a large file takes to reach the disk are not
        spent while the visitor waits.
        """
        fsync_path(tmp_path)

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
    def open(self, key: str, start: int = 0, stop: int | None = None) -> BinaryIO:
        """Open a stored file for reading, from byte `start` up to (not including) `stop`."""
        file = open(self.path(key), "rb")  # noqa: SIM115 - the caller owns and closes it
        if start:
            file.seek(start)
        if stop is None:
            return file
        return io.BufferedReader(_Window(file, max(0, stop - start)), _CHUNK)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """The file itself, for code that needs a path (Pillow, PyAV, the probe child)."""
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(errno.ENOENT, "not stored", key)
        yield path

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

    def sizes(self) -> Iterator[tuple[str, int]]:
        """Every stored key with its size in bytes."""
        for key in self.keys():
            try:
                yield key, (self.root / key).stat().st_size
            except FileNotFoundError:  # deleted while we looked
                continue


class _Window(io.RawIOBase):
    """The next `length` bytes of an open file, and no more (a byte range being served)."""

    def __init__(self, file: BinaryIO, length: int) -> None:
        self._file, self._left = file, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        count = self._file.readinto(view)
        self._left -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def fsync_path(path: Path) -> None:
    """Flush a file or a folder (a rename is durable only once its folder is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
