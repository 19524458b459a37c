"""Incoming files stream straight into the storage's temporary folder, never into memory.

Werkzeug spools large uploads to the system temp directory by default; spooling them into the
upload folder's own `tmp/` instead means an accepted original is renamed into place, not copied,
and a crash leaves its leftovers where `doctor --repair` looks for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from flask import Request
from werkzeug.datastructures import FileStorage

from contest.storage import get_storage


class UploadRequest(Request):
    """Flask's request, with multipart file parts written to the storage's temporary folder."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        path, stream = get_storage().temp_file()
        self.__dict__.setdefault("_spooled", []).append((path, stream))
        return stream

    def close(self) -> None:
        """Close the files and remove whatever spooled upload was not kept.

        A request refused halfway through parsing (too large, too many parts) has spooled files
        that never reached `files`, so they are closed here rather than by Werkzeug.
        """
        super().close()
        for path, stream in self.__dict__.get("_spooled", ()):
            stream.close()
            path.unlink(missing_ok=True)


def spooled_path(upload: FileStorage) -> Path:
    """The temporary file an upload was spooled to, flushed so every byte is on disk to read."""
    upload.stream.flush()
    return Path(upload.stream.name)
