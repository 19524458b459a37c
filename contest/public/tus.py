"""Resumable uploads (tus 1.0.0: core, creation, creation-with-upload, termination, expiration,
checksum with sha256): a phone sends its file in pieces that survive a dropped connection, and
the entry form then names the finished upload instead of carrying the file.

Every upload belongs to the browser session that created it (a random owner token kept in the
signed session cookie); another session is told 404. POST, PATCH and DELETE are checked by
Flask-WTF's CSRFProtect like every other write: the page's script sends the form's token in the
`X-CSRFToken` header (tus-js-client's `headers`). Creating an upload counts against the
submission rate limit; appending does not (each PATCH only grows an upload of a length fixed
and checked at creation, and a phone on a bad network may need hundreds).
"""

from __future__ import annotations

import base64
import binascii
import secrets

from flask import Blueprint, Response, current_app, request, session, url_for
from werkzeug.http import http_date

from contest.core import jobs
from contest.core.database import write_transaction
from contest.core.extensions import limiter
from contest.core.security import submit_rate_limit
from contest.models import Upload, utcnow
from contest.services import uploads_in_flight as uploads
from contest.services.uploads_in_flight import UploadRefused

bp = Blueprint("tus", __name__)

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
OCTETS = "application/offset+octet-stream"
OWNER = "upload_owner"  # the session key of this browser's owner token


@bp.before_request
def _check_version():
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != VERSION:
        response = Response("Tus-Resumable 1.0.0 required\n", 412, mimetype="text/plain")
        response.headers["Tus-Version"] = VERSION
        return response
    return None


@bp.after_request
def _protocol_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = VERSION
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(UploadRefused)
def _refused(why: UploadRefused):
    return Response(f"{why}\n", why.status, mimetype="text/plain")


@bp.route("/uploads", methods=["OPTIONS"])
@bp.route("/uploads/<upload_id>", methods=["OPTIONS"])
def show_options(upload_id: str | None = None):
    """What this server speaks (tus discovery)."""
    config = current_app.config
    response = Response(status=204)
    response.headers["Tus-Version"] = VERSION
    response.headers["Tus-Extension"] = EXTENSIONS
    biggest = max(config["PHOTO_MAX_BYTES"], config["VIDEO_MAX_BYTES"])
    response.headers["Tus-Max-Size"] = str(biggest)
    response.headers["Tus-Checksum-Algorithm"] = "sha256,sha1"
    return response


@bp.post("/uploads")
@limiter.limit(submit_rate_limit)
def create_upload():
    """Start an upload of Upload-Length bytes, optionally with its first piece in the body."""
    length = _int_header("Upload-Length")
    if length is None:
        raise UploadRefused("Upload-Length required", 400)
    metadata = _metadata(request.headers.get("Upload-Metadata", ""))
    owner = ensure_owner()
    with write_transaction():
        upload = uploads.create(
            owner,
            length,
            metadata.get("filetype", ""),
            metadata.get("filename", ""),
            utcnow(),
            current_app.config,
        )
    response = Response(status=201)
    response.headers["Location"] = url_for("tus.show_upload", upload_id=upload.id)
    _expires(response, upload)
    if request.mimetype == OCTETS:
        response.headers["Upload-Offset"] = str(_append(upload, 0))
    return response


@bp.route("/uploads/<upload_id>", methods=["HEAD"])
def show_upload(upload_id: str):
    """How far an upload has come (Upload-Offset) and how long it will be."""
    upload = _find(upload_id)
    response = Response(status=200)
    response.headers["Upload-Offset"] = str(uploads.offset_of(upload))
    response.headers["Upload-Length"] = str(upload.length)
    _expires(response, upload)
    return response


@bp.patch("/uploads/<upload_id>")
def append_upload(upload_id: str):
    """Add the body's bytes at Upload-Offset, which must be where the upload stands."""
    upload = _find(upload_id)
    if request.mimetype != OCTETS:
        raise UploadRefused(f"Content-Type must be {OCTETS}", 415)
    offset = _int_header("Upload-Offset")
    if offset is None:
        raise UploadRefused("Upload-Offset required", 400)
    response = Response(status=204)
    response.headers["Upload-Offset"] = str(_append(upload, offset))
    _expires(response, upload)
    return response


@bp.delete("/uploads/<upload_id>")
def delete_upload(upload_id: str):
    """Give an upload up: its row and its bytes go."""
    with write_transaction():
        leftovers = uploads.forget(_find(upload_id))
    uploads.remove_file(leftovers)
    return Response(status=204)


def ensure_owner() -> str:
    """This browser session's owner token, made now if it has none.

    The entry form and the kiosk's token make it too, so a client that keeps the cookie it
    got there (tuspy, a kiosk) need not pick up a new one from the creation's answer.
    """
    owner = session.get(OWNER)
    if not owner:
        owner = session[OWNER] = secrets.token_urlsafe(24)
    return owner


def _find(upload_id: str) -> Upload:
    expiry = current_app.config["UPLOAD_EXPIRY"]
    return uploads.find(upload_id, session.get(OWNER), utcnow(), expiry)


def _append(upload: Upload, offset: int) -> int:
    checksum = uploads.parse_checksum(request.headers.get("Upload-Checksum"))
    # The raw WSGI input, read piece by piece: Werkzeug's `request.stream` would do, but it
    # is limited to Content-Length already, and nothing here may buffer the body.
    if not uploads.in_store(upload):
        received = uploads.append(upload, offset, request.stream, request.content_length, checksum)
        _check_if_complete(upload, offset, received)
        return received
    # S3: read the piece to a local file first (no lock held), then store it.
    piece = uploads.receive(upload, offset, request.stream, request.content_length, checksum)
    try:
        received = _store_piece(upload.id, offset, piece) if piece.size else offset
    finally:
        piece.path.unlink(missing_ok=True)
    if piece.error is not None:
        raise piece.error
    _check_if_complete(upload, offset, received)
    return received


def _store_piece(upload_id: str, offset: int, piece: uploads.Piece) -> int:
    """A spooled piece into the bucket: S3's traffic runs between two short writes that lock
    only this upload's row (claim, then record), never under the site's write lock, so a slow
    PATCH holds up no other upload, score or entry; the upload's other PATCHes get 409."""
    lease = current_app.config["UPLOAD_PIECE_LEASE"]
    with write_transaction(site_lock=False):
        claim = uploads.claim(upload_id, offset, piece.size, utcnow(), lease)
    try:
        etag = uploads.send(claim, piece)
    except BaseException:
        with write_transaction(site_lock=False):
            uploads.release(claim)
        raise
    with write_transaction(site_lock=False):
        received, replaced_tail = uploads.record(claim, piece.size, etag)
    if replaced_tail is not None:
        uploads.delete_tail(replaced_tail)
    return received


def _check_if_complete(upload: Upload, offset: int, received: int) -> None:
    """The piece that brought the last byte starts the content checks in the background, so
    a refusal shows beside the file before submit, and submit finds the work done."""
    if offset < upload.length and received == upload.length:
        jobs.start_upload_check(upload.id)


def _expires(response: Response, upload: Upload) -> None:
    expiry = current_app.config["UPLOAD_EXPIRY"]
    response.headers["Upload-Expires"] = http_date(uploads.expires_at(upload, expiry))


def _int_header(name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 19:
        raise UploadRefused(f"{name} must be a non-negative integer", 400)
    return int(value)


def _metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be absent)."""
    found: dict[str, str] = {}
    for pair in header.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            found[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise UploadRefused("Upload-Metadata values must be base64", 400) from None
    return found
