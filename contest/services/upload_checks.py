"""The content checks of a finished resumable upload, run in the background before submit.

The moment an upload's last byte arrives, a job (`jobs.check_upload`) runs the very checks
`POST /submit` runs (`entries.check_content`: kind, size, decoding in child processes,
derivatives, polyglot scan) and keeps the verdict with the upload row:

- "checking" while the job is queued or running;
- "ok": the media facts in `check_result` and the derivatives as files of the upload
  (`uploads_in_flight.derived_name`), so submit stores them instead of decoding again;
- "refused": the visitor-readable message in every language of the site, shown next to the
  file field before the visitor presses submit.

Submit stays the authority: it uses an "ok" verdict only when the bytes it is about to store
hash to the ones checked (`entries._prepared_content`) and otherwise, or for any other state,
runs the checks inline as before; limits, duplicates and the transaction do not change.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask_babel import force_locale

from contest.core.extensions import db
from contest.core.i18n import DEFAULT, LANGUAGES
from contest.core.refusal import Refusal
from contest.media.photo import Derivative, Photo
from contest.media.video import Video
from contest.models import Upload
from contest.services import entries
from contest.services import uploads_in_flight as uploads
from contest.storage import S3Storage, StorageUnavailable, get_storage

CHECKING, OK, REFUSED = "checking", "ok", "refused"


@dataclass(frozen=True)
class Verdict:
    """What the visitor's page is told: the state, and a refusal's message in their language."""

    state: str
    message: str | None = None


@dataclass(frozen=True)
class Pending:
    """An upload whose checks are to run, as plain values (no row held while they run)."""

    id: str
    in_store: bool  # S3: the bytes are fetched to a temporary local copy first


@dataclass
class Outcome:
    """What the checks found, ready to record; `written` names the derivative files kept."""

    id: str
    state: str
    sha256: str | None
    result: dict[str, Any]
    in_store: bool
    written: list[str] = field(default_factory=list)


def begin(upload_id: str) -> bool:
    """Mark a finished upload as being checked (flushes); False when there is nothing to
    check: gone, not finished, or checked (or being checked) already."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.check_state is not None:
        return False
    if uploads.offset_of(upload) != upload.length:
        return False
    upload.check_state = CHECKING
    db.session.flush()
    return True


def abandon(upload_id: str) -> None:
    """Forget a check that could not be queued or run: submit will check inline."""
    upload = db.session.get(Upload, upload_id)
    if upload is not None and upload.check_state == CHECKING:
        upload.check_state = None
        db.session.flush()


def pending(upload_id: str) -> Pending | None:
    """The upload to check, if it is still waiting for its check."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.check_state != CHECKING:
        return None
    return Pending(upload.id, uploads.in_store(upload))


def examine(work: Pending) -> Outcome | None:
    """Run the content checks with no transaction open; None when there is no verdict to
    keep: the bytes are gone (submitted, given up or removed meanwhile), or the server could
    not check them now (a 5xx refusal says nothing about the file; submit checks again).

    An accepted file's derivatives are written as files of the upload before the verdict is
    recorded; the caller removes them (`discard`) if recording does not happen.
    """
    with _local_bytes(work) as path:
        if path is None:
            return None
        try:
            content = entries.check_content(path)
        except Refusal as why:
            if why.status >= 500:
                return None  # the server was busy (no room to decode in time): no verdict
            return Outcome(work.id, REFUSED, None, _refusal(why), work.in_store)
        except Exception:
            if not path.exists():
                # Taken by a submit that did not wait for this check (the file was moved into
                # place mid-check): whatever failed, there is nothing to keep.
                return None
            raise
    outcome = Outcome(work.id, OK, content.sha256, _facts(content), work.in_store)
    try:
        for role, derivative in _derivatives(content.media):
            _keep(work, role, derivative.data)
            outcome.written.append(role)
    except BaseException:
        discard(outcome)
        raise
    return outcome


def record(outcome: Outcome) -> bool:
    """Store the verdict on the row (flushes); False when the row is gone or no longer waits
    for it, and the caller then removes the files written (`discard`)."""
    upload = db.session.get(Upload, outcome.id, populate_existing=True)
    if upload is None or upload.check_state != CHECKING:
        return False
    upload.check_state = outcome.state
    upload.check_sha256 = outcome.sha256
    upload.check_result = outcome.result
    db.session.flush()
    return True


def discard(outcome: Outcome) -> None:
    """Remove the derivative files a check wrote for a verdict that was not recorded."""
    for role in outcome.written:
        _remove(outcome.id, outcome.in_store, role)


def verdict(upload: Upload, language: str) -> Verdict:
    """The state for the visitor's page; not yet started counts as still checking."""
    if upload.check_state == OK:
        return Verdict(OK)
    if upload.check_state == REFUSED:
        messages = (upload.check_result or {}).get("message", {})
        return Verdict(REFUSED, messages.get(language) or messages.get(DEFAULT))
    return Verdict(CHECKING)


def prepared(upload: Upload) -> entries.Content | None:
    """What submit may use instead of checking again: an "ok" verdict's content, rebuilt
    from its facts and derivative files; None otherwise (or if a file cannot be read)."""
    if upload.check_state != OK or not upload.check_result or not upload.check_sha256:
        return None
    facts = upload.check_result
    work = Pending(upload.id, uploads.in_store(upload))
    try:
        media = _media(work, facts)
    except (OSError, StorageUnavailable, KeyError, TypeError, ValueError):
        return None  # a missing or unreadable file: submit checks inline
    return entries.Content(facts["kind"], media, upload.check_sha256, facts["size"])


# The media as JSON: derivatives by role (their bytes are files), datetimes as ISO 8601 text
# (a photo's camera-local time stays naive, a video's UTC time stays aware).


def _facts(content: entries.Content) -> dict[str, Any]:
    media: dict[str, Any] = {}
    for item in dataclasses.fields(content.media):
        value = getattr(content.media, item.name)
        if isinstance(value, Derivative):
            value = {k: v for k, v in dataclasses.asdict(value).items() if k != "data"}
        elif isinstance(value, datetime):
            value = {"datetime": value.isoformat()}
        media[item.name] = value
    return {"kind": content.kind, "size": content.size, "media": media}


def _media(work: Pending, facts: dict[str, Any]) -> Photo | Video:
    kind = Video if facts["kind"] == "video" else Photo
    values: dict[str, Any] = {}
    for item in dataclasses.fields(kind):
        value = facts["media"][item.name]
        if item.name in uploads.DERIVED:
            value = Derivative(data=_read(work, item.name), **value)
        elif isinstance(value, dict) and "datetime" in value:
            value = datetime.fromisoformat(value["datetime"])
        values[item.name] = value
    return kind(**values)


def _derivatives(media: Photo | Video) -> Iterator[tuple[str, Derivative]]:
    for role in uploads.DERIVED:
        value = getattr(media, role, None)
        if isinstance(value, Derivative):
            yield role, value


def _refusal(why: Refusal) -> dict[str, Any]:
    """The refusal's message in every language of the site (it may be a lazy translation)."""
    messages = {}
    for language in LANGUAGES:
        with force_locale(language):
            messages[language] = str(why.message)
    return {"message": messages, "status": why.status}


# The derivative files: local ones in `uploads_in_flight.checked_folder()`, in S3 in-flight
# objects, so that whichever app server takes the submit finds them.


@contextmanager
def _local_bytes(work: Pending) -> Iterator[Path | None]:
    """The upload's bytes as a local file: its own on local storage; with S3 a temporary copy
    removed afterwards (the worker may be another machine than the one taking the submit)."""
    if not work.in_store:
        path = uploads.folder() / work.id
        yield path if path.exists() else None
        return
    storage = get_storage()
    tmp_path, tmp = storage.temp_file()
    try:
        with tmp:
            storage.read_flight(work.id, tmp)
        yield tmp_path
    finally:
        tmp_path.unlink(missing_ok=True)


def _keep(work: Pending, role: str, data: bytes) -> None:
    name = uploads.derived_name(work.id, role)
    storage = get_storage()
    tmp_path, tmp = storage.temp_file()
    try:
        with tmp:
            tmp.write(data)
        if work.in_store and isinstance(storage, S3Storage):
            storage.put_flight(name, tmp_path)
        else:
            os.replace(tmp_path, uploads.checked_folder() / name)
    finally:
        tmp_path.unlink(missing_ok=True)


def _read(work: Pending, role: str) -> bytes:
    name = uploads.derived_name(work.id, role)
    storage = get_storage()
    if work.in_store and isinstance(storage, S3Storage):
        buffer = io.BytesIO()
        storage.read_flight(name, buffer)
        return buffer.getvalue()
    return (uploads.checked_folder() / name).read_bytes()


def _remove(upload_id: str, in_store: bool, role: str) -> None:
    name = uploads.derived_name(upload_id, role)
    storage = get_storage()
    if in_store and isinstance(storage, S3Storage):
        storage.delete_flight(name)
    else:
        (uploads.checked_folder() / name).unlink(missing_ok=True)
