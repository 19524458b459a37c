"""What every storage backend shares: key rules, and the local folder for uploads in flight.

Uploads spool to a temporary folder on the app server's own disk whatever the backend (see
`contest.core.uploads`), so `doctor` finds a crashed upload's leftovers there and the media checks
read a real file; only finished files go to the backend.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

TMP_DIR = "tmp"


class StorageUnavailable(Exception):
    """The store holding entry files cannot be reached now (an object store down or refusing).

    Nothing was stored by the call that raised it; the visitor is asked to try again (503).
    """


def new_key(prefix: str, extension: str) -> str:
    """A fresh random key like "originals/k3/k3Jd...Q.jpg" (sharded: folders stay small)."""
    token = secrets.token_urlsafe(18)  # 144 bits: unguessable, and reveals nothing
    return f"{prefix}/{token[:2].lower()}/{token}{extension}"


def check_key(key: str) -> str:
    """The key itself; refuses one that is absolute, climbs out, or names a temporary file."""
    parts = PurePosixPath(key).parts
    if (
        not parts
        or key.startswith("/")
        or "\\" in key
        or any(p in ("", ".", "..") for p in key.split("/"))
        or parts[0] == TMP_DIR
    ):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class TempFolder:
    """The local temporary folder of a storage: `temp_file`, `temp_files`, `new_key`."""

    new_key = staticmethod(new_key)

    def __init__(self, tmp: Path) -> None:
        self.tmp = Path(tmp)

    def temp_file(self, suffix: str = ".part") -> tuple[Path, BinaryIO]:
        """A new temporary file for an incoming upload, named after this process.

        The process id in the name lets `doctor` tell a live upload from one a crash left behind.
        """
        path = self.tmp / f"upload-{os.getpid()}-{secrets.token_hex(8)}{suffix}"
        return path, open(path, "xb+")  # noqa: SIM115 - the caller owns and closes it

    def temp_files(self) -> Iterator[Path]:
        """Temporary files: uploads in flight, or left behind by a crash."""
        return (p for p in self.tmp.iterdir() if p.is_file())
