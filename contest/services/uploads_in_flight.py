"""Resumable uploads in flight (tus 1.0.0): created, appended to, finished or given up.

A visitor's phone sends a big video in pieces that survive a dropped connection: the bytes grow
in a file under the storage's local `tmp/tus/`, the row (`Upload`) records who may add to it and
how long it will be. The file's size is the offset, so appending writes no row; an append holds
an exclusive lock on the file, so two requests for one upload never interleave. A complete upload
is handed to `entries.accept` by its path, exactly as a spooled form upload is.

With S3 storage an upload lives in the bucket instead, so consecutive pieces may reach different
app servers: an S3 multipart upload (`Upload.multipart`, its parts as `UploadPart` rows) plus a
tail of fewer than 5 MiB (S3's smallest part but the last) kept as an in-flight object. A piece
is stored in three steps, so that S3's traffic never runs under a database lock (with the
site's write lock, one slow PATCH held up every entry, score and upload of the site):

1. `receive`: the request's bytes are spooled to a local temporary file; no lock, no write.
2. `claim`, a short write that locks only the upload's row (`SELECT … FOR UPDATE` on
   PostgreSQL, without the site's advisory lock; on SQLite, one server, the usual BEGIN
   IMMEDIATE, held for milliseconds): the offset must still be `received` and no other PATCH
   may hold the upload, else 409; the claim is numbered (`Upload.claims`) and marked
   (`claimed_at`), and the transaction commits.
3. `send`, no transaction open: the tail and the piece, joined, go up as part number N (5 MiB
   or more, or the last byte, which also completes the multipart upload into `tmp/tus/<id>`)
   or as the new tail object `tmp/tus/<id>.tail.N`; then `record`, a second short row-locked
   write, checks the claim is still this one, adds the part row or points `tail_claim` at N,
   moves `received` on and clears the claim. The replaced tail object is deleted afterwards.

Two PATCHes of one upload at once: the second finds the claim (or a moved offset) and gets 409,
which tus clients answer by asking for the offset again. Nothing S3 holds is ever overwritten:
part numbers and tail names come from the claim's number, so a PATCH that lost its claim
(its server stalled past `UPLOAD_PIECE_LEASE`, and another took the upload) leaves only
unrecorded objects, which go with the multipart upload; `received` counts only recorded bytes,
so the part list and the tail always agree with it. A server that dies in step 3 leaves a
claim that blocks the upload until the lease passes; a failed `send` gives it back at once.
`complete` copies a finished upload to the local `tmp/tus/<id>` for the checks.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.formatting import file_size
from contest.core.refusal import Refusal
from contest.models import Upload, UploadPart
from contest.storage import S3Storage, fsync_path, get_storage

FOLDER = "tus"
# The derivatives a background check prepared (`upload_checks`), kept as files of the upload
# named `<id>.<role>`: locally in their own folder (beside `tmp/tus/`, whose files are the
# uploads' bytes), in S3 as in-flight objects beside the upload's. Removed with the upload.
CHECKED_FOLDER = "tus-checked"
DERIVED = ("preview", "poster", "thumbnail")
_READ = 64 * 1024  # what one read of the request holds in memory
PART_MIN = 5 * 1024 * 1024  # S3's smallest part, except the last
PART_NUMBERS = 10_000  # S3's part numbers are 1 to 10 000; each claim takes the next one


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


def checked_folder() -> Path:
    """The local folder of the derivatives that background checks prepared."""
    path = get_storage().tmp / CHECKED_FOLDER
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def derived_name(upload_id: str, role: str) -> str:
    """The name of an upload's prepared derivative (a file, or an in-flight object in S3)."""
    return f"{upload_id}.{role}"


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
    storage = get_storage()
    if isinstance(storage, S3Storage):
        upload.multipart = storage.start_multipart(upload.id)
    else:
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
    if is_expired(upload, now, expiry):
        raise UploadRefused(_EXPIRED, 410)
    if not in_store(upload) and not path_of(upload).exists():
        raise UploadRefused(_EXPIRED, 410)
    return upload


def is_expired(upload: Upload, now: datetime, expiry: float) -> bool:
    return upload.created_at + timedelta(seconds=expiry) <= now


def expires_at(upload: Upload, expiry: float) -> datetime:
    return upload.created_at + timedelta(seconds=expiry)


def in_store(upload: Upload) -> bool:
    """Whether the upload's bytes are in the object store (S3) rather than on this disk."""
    return upload.multipart is not None


def offset_of(upload: Upload) -> int:
    """How many bytes have arrived (the file's size; in S3, those stored in the bucket)."""
    if in_store(upload):
        return upload.received
    try:
        return path_of(upload).stat().st_size
    except FileNotFoundError:
        return 0


def complete(upload_id: str, owner: str | None, now: datetime, expiry: float) -> Upload:
    """A finished upload, whose file `entries.accept` takes; refused while bytes are missing."""
    upload = find(upload_id, owner, now, expiry)
    if offset_of(upload) != upload.length:
        raise UploadRefused(_INCOMPLETE, 409)
    if in_store(upload):
        _fetch(upload)
    return upload


def _fetch(upload: Upload) -> None:
    """Copy a finished S3 upload to its local path (`path_of`), unless a try left it there."""
    path = path_of(upload)
    if path.exists():
        return
    storage = get_storage()
    tmp_path, tmp = storage.temp_file()
    try:
        with tmp:
            if upload.length:
                storage.read_flight(upload.id, tmp)
        os.chmod(tmp_path, 0o600)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@dataclass
class Piece:
    """A PATCH's bytes spooled to a local file, and the error that cut it short (if any)."""

    path: Path
    size: int
    error: BaseException | None = None


def receive(
    upload: Upload,
    offset: int,
    stream: IO[bytes],
    content_length: int | None,
    checksum: tuple[str, bytes] | None = None,
) -> Piece:
    """S3: the request's bytes in a local temporary file, read before any lock is taken.

    As `append`: never past the length, a checksum keeps the piece only whole and matching
    (460), and without one the bytes before a dropped connection are kept (`error` is set).
    """
    if offset != upload.received:
        raise UploadRefused("Upload-Offset does not match", 409)
    room = upload.length - offset
    if content_length is not None and content_length > room:
        raise UploadRefused("Upload-Length exceeded", 413)
    path, file = get_storage().temp_file()
    written = 0
    try:
        with file:
            try:
                _copy_body(stream, file, room, checksum)
            finally:
                written = file.tell()
    except BaseException as error:
        if checksum or not written:
            path.unlink(missing_ok=True)
            raise
        return Piece(path, written, error)
    return Piece(path, written)


@dataclass
class Claim:
    """One PATCH's hold on an S3 upload while its piece goes to the bucket (see the module)."""

    upload_id: str
    multipart: str
    length: int
    number: int  # names the part or the tail object this PATCH writes
    offset: int
    tail: int  # bytes in the tail object now, which go first
    tail_name: str
    makes_part: bool  # the tail and the piece are 5 MiB or more, or end the upload
    parts: list[tuple[int, str]]  # the parts stored so far (number, ETag), to complete with


def claim(upload_id: str, offset: int, size: int, now: datetime, lease: float) -> Claim:
    """S3: take the upload for one piece of `size` bytes at `offset`, in a short write.

    The row is locked (`FOR UPDATE` on PostgreSQL) while it is checked and marked, and
    re-read, as another server may have moved it on: 410 if it is gone, 409 if the offset is
    not its own or another PATCH holds it (for less than `lease` seconds).
    """
    upload = _locked_row(upload_id)
    if offset != upload.received:
        raise UploadRefused("Upload-Offset does not match", 409)
    if upload.claimed_at is not None and upload.claimed_at + timedelta(seconds=lease) > now:
        raise UploadRefused("Upload-Offset is being written", 409)
    if upload.claims >= PART_NUMBERS:
        raise UploadRefused("Too many pieces", 413)
    upload.claims += 1
    upload.claimed_at = now
    tail = upload.received - sum(part.size for part in upload.parts)
    db.session.flush()
    return Claim(
        upload_id=upload.id,
        multipart=upload.multipart,
        length=upload.length,
        number=upload.claims,
        offset=offset,
        tail=tail,
        tail_name=tail_name(upload.id, upload.tail_claim),
        makes_part=tail + size >= PART_MIN or offset + size == upload.length,
        parts=[(part.number, part.etag) for part in upload.parts],
    )


def send(claim: Claim, piece: Piece) -> str | None:
    """S3: the claimed piece, joined to the tail, into the bucket; holds no database lock.

    5 MiB or more, or the last byte, goes up as part number `claim.number` (the ETag is
    returned) and the last one completes the multipart upload; less becomes the new tail
    object, under a name of its own, so a PATCH whose claim was lost can never overwrite a
    part or a tail that another one recorded.
    """
    storage = get_storage()
    joined = piece.path
    try:
        if claim.tail:
            joined, file = storage.temp_file()
            with file:
                storage.read_flight(claim.tail_name, file, claim.tail)
                with open(piece.path, "rb") as body:
                    shutil.copyfileobj(body, file, 1024 * 1024)
        if not claim.makes_part:
            storage.put_flight(tail_name(claim.upload_id, claim.number), joined)
            return None
        try:
            etag = storage.upload_part(claim.upload_id, claim.multipart, claim.number, joined)
            if claim.offset + piece.size == claim.length:
                parts = [*claim.parts, (claim.number, etag)]
                storage.complete_multipart(claim.upload_id, claim.multipart, parts)
        except FileNotFoundError:  # the multipart upload was aborted: given up meanwhile
            raise UploadRefused(_EXPIRED, 410) from None
        return etag
    finally:
        if joined != piece.path:
            joined.unlink(missing_ok=True)


def record(claim: Claim, size: int, etag: str | None) -> tuple[int, str | None]:
    """S3: what `send` stored, as the upload's new state, in a short write; the new offset and
    the tail object it replaced (to delete once committed), if any.

    409 if the claim was lost meanwhile (it outlived its lease and another PATCH took the
    upload): what it sent is then left unrecorded, and goes with the multipart upload.
    """
    upload = _locked_row(claim.upload_id)
    if upload.claims != claim.number or upload.claimed_at is None:
        raise UploadRefused("Upload-Offset was taken by another request", 409)
    if etag is not None:
        upload.parts.append(UploadPart(number=claim.number, etag=etag, size=claim.tail + size))
        upload.tail_claim = 0
    else:
        upload.tail_claim = claim.number
    upload.received += size
    upload.claimed_at = None
    db.session.flush()
    return upload.received, claim.tail_name if claim.tail else None


def release(claim: Claim) -> None:
    """S3: give the upload back after `send` failed, so the client's retry need not wait out
    the lease (a claim lost meanwhile is left to its new holder)."""
    upload = db.session.get(Upload, claim.upload_id, with_for_update=True, populate_existing=True)
    if upload is not None and upload.claims == claim.number:
        upload.claimed_at = None
        db.session.flush()


def delete_tail(name: str) -> None:
    """Delete a tail object a recorded piece replaced. Best effort: the piece is stored
    whatever happens here, and a tail left behind goes with its upload (`remove_file`)."""
    try:
        get_storage().delete_flight(name)
    except Exception:  # noqa: BLE001 - see the docstring
        logging.getLogger(__name__).warning("could not delete the replaced tail %s", name)


def tail_name(upload_id: str, number: int) -> str:
    """The in-flight object holding the tail written by claim `number` (0: none yet)."""
    return f"{upload_id}.tail" if number == 0 else f"{upload_id}.tail.{number}"


def _locked_row(upload_id: str) -> Upload:
    """The upload's row, read afresh and locked until the transaction ends; 410 if gone."""
    upload = db.session.get(Upload, upload_id, with_for_update=True, populate_existing=True)
    if upload is None:
        raise UploadRefused(_EXPIRED, 410)
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
        file.seek(current)
        try:
            _copy_body(stream, file, room, checksum)
        except BaseException:
            if checksum:
                file.truncate(current)
            raise
        finally:
            file.flush()
            os.fsync(file.fileno())
        return file.tell()


def _copy_body(
    stream: IO[bytes], file: IO[bytes], room: int, checksum: tuple[str, bytes] | None
) -> None:
    """Copy the request's bytes into `file` at its position, `_READ` at a time and never more
    than `room`; with a checksum, 460 unless they match (the caller then drops them)."""
    digest = hashlib.new(checksum[0]) if checksum else None
    left = room
    while left > 0:
        data = stream.read(min(_READ, left))
        if not data:
            break
        file.write(data)
        if digest is not None:
            digest.update(data)
        left -= len(data)
    if checksum and digest.digest() != checksum[1]:
        raise UploadRefused("Checksum Mismatch", 460)


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


@dataclass
class Leftovers:
    """What an upload leaves once its row is gone: the local file, and in S3 its objects."""

    id: str
    path: Path
    multipart: str | None


def forget(upload: Upload) -> Leftovers:
    """Delete the row; returns what to remove once that has committed (`remove_file`)."""
    leftovers = Leftovers(upload.id, path_of(upload), upload.multipart)
    db.session.delete(upload)
    db.session.flush()
    return leftovers


def remove_file(leftovers: Leftovers) -> None:
    """Remove the local file and, in S3, abort the multipart upload and delete its objects;
    the derivatives a background check prepared go too."""
    leftovers.path.unlink(missing_ok=True)
    for role in DERIVED:
        (checked_folder() / derived_name(leftovers.id, role)).unlink(missing_ok=True)
    storage = get_storage()
    if leftovers.multipart is not None and isinstance(storage, S3Storage):
        storage.abort_multipart(leftovers.id, leftovers.multipart)
        # The object, and every tail object (the current one, and any a lost claim left).
        storage.delete_flights(leftovers.id)


def expired(now: datetime, expiry: float) -> list[Upload]:
    """Uploads older than the expiry, complete or not (a finished one nobody submitted too)."""
    cutoff = now - timedelta(seconds=expiry)
    return list(db.session.scalars(select(Upload).where(Upload.created_at <= cutoff)))


def remove_expired(now: datetime, expiry: float) -> list[Leftovers]:
    """Delete the rows of expired uploads; returns their files, to remove once committed."""
    return [forget(upload) for upload in expired(now, expiry)]


def stray_files(older_than: float) -> Iterator[Path]:
    """Files in the uploads folder that no row names (a crash between file and row), left
    alone while younger than `older_than` seconds (a creation may not have committed yet);
    prepared derivatives (`<id>.<role>`) whose upload is gone too."""
    known = set(db.session.scalars(select(Upload.id)))
    cutoff = time.time() - older_than
    files = [*folder().iterdir(), *checked_folder().iterdir()]
    return (
        p
        for p in files
        if p.name.partition(".")[0] not in known and p.is_file() and p.stat().st_mtime < cutoff
    )
