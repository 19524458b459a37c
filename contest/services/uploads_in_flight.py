"""Resumable uploads in flight (tus 1.0.0): created, appended to, finished or given up.

A visitor's phone sends a big video in pieces that survive a dropped connection: the bytes grow
in a file under the storage's local `tmp/tus/`, the row (`Upload`) records who may add to it and
how long it will be. The file's size is the offset, so appending writes no row; an append holds
an exclusive lock on the file, so two requests for one upload never interleave. A complete upload
is handed to `entries.accept` by its path, exactly as a spooled form upload is.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.formatting import file_size
from contest.core.refusal import Refusal
from contest.models import Upload
from contest.storage import fsync_path, get_storage

FOLDER = "tus"
_READ = 64 * 1024  # what one read of the request holds in memory


class UploadRefused(Refusal):
    """A tus request the server will not carry out; its status is the protocol's answer."""

    field = "media"


_NOT_FOUND = _l("올리던 파일을 찾을 수 없습니다. 파일을 다시 선택해 주세요.")
_EXPIRED = _l("올리던 파일의 보관 시간이 지났습니다. 파일을 다시 선택해 주세요.")
_INCOMPLETE = _l("파일이 아직 다 올라가지 않았습니다. 잠시 기다려 주세요.")


def folder() -> Path:
    """The local folder of in-flight uploads (created on first use, app user only)."""
    path = get_storage().tmp / FOLDER
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def path_of(upload: Upload) -> Path:
    """Where an upload's bytes are (its id is URL-safe base64: never a path separator)."""
    return folder() / upload.id


def limit_for(filetype: str, config: Any) -> int:
    """The largest file of the kind the client says it sends (the content decides later)."""
    if filetype.lower().startswith("video/"):
        return config["VIDEO_MAX_BYTES"]
    return config["PHOTO_MAX_BYTES"]


def create(
    owner: str, length: int, filetype: str, filename: str, now: datetime, config: Any
) -> Upload:
    """A new, empty upload of `length` bytes owned by `owner`; refused (413) over the limit."""
    limit = limit_for(filetype, config)
    if length > limit:
        raise UploadRefused(
            _l(
                "파일이 너무 큽니다: %(limit)s까지 올릴 수 있습니다 (고른 파일 %(size)s).",
                limit=file_size(limit),
                size=file_size(length),
            ),
            413,
        )
    upload = Upload(
        id=secrets.token_urlsafe(24),  # 192 bits
        owner=owner,
        length=length,
        filetype=filetype[:100],
        filename=filename.replace("\x00", "")[:255],
        created_at=now,
    )
    path = path_of(upload)
    with open(path, "xb"):
        pass
    os.chmod(path, 0o600)
    fsync_path(path.parent)
    db.session.add(upload)
    db.session.flush()
    return upload


def find(upload_id: str, owner: str | None, now: datetime, expiry: float) -> Upload:
    """The upload with this id made by `owner`: 404 if none is (or another's), 410 if expired."""
    upload = db.session.get(Upload, upload_id) if len(upload_id) <= 64 else None
    if upload is None or owner is None or not secrets.compare_digest(upload.owner, owner):
        raise UploadRefused(_NOT_FOUND, 404)
    if is_expired(upload, now, expiry) or not path_of(upload).exists():
        raise UploadRefused(_EXPIRED, 410)
    return upload


def is_expired(upload: Upload, now: datetime, expiry: float) -> bool:
    return upload.created_at + timedelta(seconds=expiry) <= now


def expires_at(upload: Upload, expiry: float) -> datetime:
    return upload.created_at + timedelta(seconds=expiry)


def offset_of(upload: Upload) -> int:
    """How many bytes have arrived (the file's size)."""
    try:
        return path_of(upload).stat().st_size
    except FileNotFoundError:
        return 0


def complete(upload_id: str, owner: str | None, now: datetime, expiry: float) -> Upload:
    """A finished upload, whose file `entries.accept` takes; refused while bytes are missing."""
    upload = find(upload_id, owner, now, expiry)
    if offset_of(upload) != upload.length:
        raise UploadRefused(_INCOMPLETE, 409)
    return upload


def append(
    upload: Upload,
    offset: int,
    stream: IO[bytes],
    content_length: int | None,
    checksum: tuple[str, bytes] | None = None,
) -> int:
    """Write the request's bytes at `offset` (which must be the current one); the new offset.

    Reads `_READ` bytes at a time (memory stays flat whatever the chunk), never past the
    upload's length, and fsyncs before answering. Bytes that arrived before a dropped
    connection are kept (tus asks for it) unless a checksum was sent: then the piece is kept
    only whole and matching (otherwise 460, and the file is cut back to `offset`).
    """
    with _locked(path_of(upload)) as file:
        current = os.fstat(file.fileno()).st_size
        if offset != current:
            raise UploadRefused("Upload-Offset does not match", 409)
        room = upload.length - current
        if content_length is not None and content_length > room:
            raise UploadRefused("Upload-Length exceeded", 413)
        digest = hashlib.new(checksum[0]) if checksum else None
        file.seek(current)
        written = 0
        try:
            while written < room:
                data = stream.read(min(_READ, room - written))
                if not data:
                    break
                file.write(data)
                if digest is not None:
                    digest.update(data)
                written += len(data)
            if checksum and digest.digest() != checksum[1]:
                raise UploadRefused("Checksum Mismatch", 460)
        except BaseException:
            if checksum:
                file.truncate(current)
            raise
        finally:
            file.flush()
            os.fsync(file.fileno())
        return current + written


@contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    """The upload's file, open for appending under an exclusive lock; 423 while another has it."""
    try:
        file = open(path, "r+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise UploadRefused(_EXPIRED, 410) from None
    with file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise UploadRefused("Upload is busy", 423) from None
            raise
        yield file


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """`Upload-Checksum: sha256 <base64>` as (algorithm, digest); 400 if it is not that."""
    if not header:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() not in ("sha256", "sha1"):
        raise UploadRefused("Unsupported checksum algorithm", 400)
    try:
        return algorithm.lower(), base64.b64decode(value, validate=True)
    except ValueError:
        raise UploadRefused("Bad Upload-Checksum", 400) from None


def forget(upload: Upload) -> Path:
    """Delete the row; returns the file to remove once that has committed (`remove_file`)."""
    path = path_of(upload)
    db.session.delete(upload)
    db.session.flush()
    return path


def remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)


def expired(now: datetime, expiry: float) -> list[Upload]:
    """Uploads older than the expiry, complete or not (a finished one nobody submitted too)."""
    cutoff = now - timedelta(seconds=expiry)
    return list(db.session.scalars(select(Upload).where(Upload.created_at <= cutoff)))


def remove_expired(now: datetime, expiry: float) -> list[Path]:
    """Delete the rows of expired uploads; returns their files, to remove once committed."""
    return [forget(upload) for upload in expired(now, expiry)]


def stray_files(older_than: float) -> Iterator[Path]:
    """Files in the uploads folder that no row names (a crash between file and row), left
    alone while younger than `older_than` seconds (a creation may not have committed yet)."""
    known = set(db.session.scalars(select(Upload.id)))
    cutoff = time.time() - older_than
    return (
        p
        for p in folder().iterdir()
        if p.name not in known and p.is_file() and p.stat().st_mtime < cutoff
    )
