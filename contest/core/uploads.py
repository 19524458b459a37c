"""Incoming files stream straight into the storage's temporary folder, never into memory.

Werkzeug spools large uploads to the system temp directory by default; spooling them into the
upload folder's own `tmp/` instead means an accepted original is renamed into place, not copied,
and a crash leaves its leftovers where `doctor --repair` looks for them.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import IO

from flask import Request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from contest.storage import get_storage


class TooLarge(enum.Enum):
    """Which of Werkzeug's limits a refused request went over."""

    REQUEST = "MAX_CONTENT_LENGTH"  # the whole request (in practice: the file)
    PARTS = "MAX_FORM_PARTS"  # too many fields
    FIELD = "MAX_FORM_MEMORY_SIZE"  # one text field too long


class NamedTooLarge(RequestEntityTooLarge):
    """A 413 that says which limit it met (`limit`), how big the request was (`sent`, from
    Content-Length), and for a long text field which one (`field`), so the answer names it."""

    def __init__(self, limit: TooLarge, sent: int | None, field: str | None = None) -> None:
        super().__init__()
        self.limit, self.sent, self.field = limit, sent, field


# A part's header as it arrives: the last one seen names the field being read when a limit hit.
# Looked for only right after a boundary (a fast substring search, as the count is), in a
# lower-cased copy of those few hundred bytes (header names and "form-data" are
# case-insensitive), the field's name then read from the original. A pattern run over every
# byte cost 0.1 s of CPU for a 5 MB photo case-insensitively, and still about 10 ms on a
# lower-cased copy of each chunk (issue 19).
_PART_NAME = re.compile(rb'content-disposition: *form-data; *name="([a-z0-9_\-]{1,64})"')
# How far past its boundary a part's name may sit (a browser's headers take about 100 bytes).
_HEADER_REACH = 512


class _PartCounter:
    """The request body as Werkzeug's parser reads it, counting the multipart boundaries seen
    and remembering the last part's name: Werkzeug's own 413s do not say which limit hit."""

    def __init__(self, stream: IO[bytes], boundary: bytes) -> None:
        self._stream = stream
        self._marker = b"--" + boundary
        self._tail = b""
        self.parts = 0
        self.read_bytes = 0
        self.last_name: str | None = None

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.read_bytes += len(data)
        window = self._tail + data
        # Only markers ending in the new bytes: none is counted twice across two reads.
        self.parts += window.count(self._marker) - self._tail.count(self._marker)
        self._remember_last_name(window)
        # The tail keeps a boundary whose header is still arriving, to be read again.
        self._tail = window[-(len(self._marker) + _HEADER_REACH) :]
        return data

    def _remember_last_name(self, window: bytes) -> None:
        """The name in the last complete part header of `window`, latest boundary first."""
        end = len(window)
        while (start := window.rfind(self._marker, 0, end)) != -1:
            header = window[start : min(end, start + len(self._marker) + _HEADER_REACH)]
            match = _PART_NAME.search(header.lower())
            if match is not None:
                self.last_name = header[match.start(1) : match.end(1)].decode()
                return
            end = start

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


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

    def _get_stream_for_parsing(self) -> IO[bytes]:
        stream = super()._get_stream_for_parsing()
        boundary = self.mimetype_params.get("boundary", "")
        if self.mimetype == "multipart/form-data" and boundary:
            self.__dict__["_counter"] = stream = _PartCounter(stream, boundary.encode("latin-1"))
        return stream

    def _load_form_data(self) -> None:
        """Parse the form; a 413 says which limit it met (see `NamedTooLarge`)."""
        try:
            super()._load_form_data()
        except NamedTooLarge:
            raise
        except RequestEntityTooLarge:
            raise self._named_too_large() from None

    def _named_too_large(self) -> NamedTooLarge:
        sent = self.content_length
        counter = self.__dict__.get("_counter")
        limit = self.max_content_length
        if counter is None or (limit is not None and (sent or counter.read_bytes) >= limit):
            return NamedTooLarge(TooLarge.REQUEST, sent)
        parts = self.max_form_parts
        # The boundaries seen are the parts begun (the closing one is never reached here).
        if parts is not None and counter.parts > parts:
            return NamedTooLarge(TooLarge.PARTS, sent)
        return NamedTooLarge(TooLarge.FIELD, sent, counter.last_name)

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
