"""Consistency between the database and the stored files, and its repair.

Every asset row must have its file, of the recorded size; every stored file must belong to a
row; temporary files belong only to uploads still in flight. A crash or a power cut can leave
orphans and temporary files behind (never a row without its file: files are in place before the
row commits), and a lost derivative can always be made again from its original.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.file_transactions import delete_once_committed, remove_unless_committed
from contest.media import Rejected
from contest.media.photo import process_photo
from contest.media.photo_worker import limits_from
from contest.media.video import inspect_video
from contest.models import Asset, Entry, Upload, utcnow
from contest.services import playback, uploads_in_flight
from contest.storage import S3Storage, Storage

STALE_TEMP_SECONDS = 24 * 3600
# An S3 multipart upload or in-flight object that no upload row names is an orphan once it is
# this old: a younger one may belong to a creation or a piece whose row has not committed yet
# (which takes milliseconds; an hour leaves room for a server that stalled).
ORPHAN_GRACE = timedelta(hours=1)
# A playback copy still pending after this long has lost its job (say, a queue wiped by hand).
STALLED_PLAYBACK = timedelta(hours=6)
KINDS = (
    "missing-original",
    "damaged-original",  # not the size recorded when it was accepted
    "missing-derivative",
    "damaged-derivative",
    "orphan-file",
    "stale-temp",
    "expired-upload",  # a resumable upload older than UPLOAD_EXPIRY (the worker removes them too)
    "orphan-multipart",  # S3: a multipart upload no upload row names (a crash between the two)
    "orphan-flight",  # S3: an in-flight object (tail, finished upload) whose upload row is gone
    "playback-failed",  # the background transcode failed: retried by --repair
    "playback-stalled",  # pending for hours: its job was lost; queued again by --repair
)


@dataclass
class Problem:
    """One inconsistency: what it is, and whether `repair` can fix it."""

    kind: str  # one of KINDS
    detail: str
    key: str | None = None
    asset_id: int | None = None
    path: Path | None = None
    entry_id: int | None = None
    multipart: str | None = None  # an orphan multipart upload's UploadId

    @property
    def repairable(self) -> bool:
        """Whether `repair` can mend it (a lost original cannot be made again)."""
        return self.kind not in ("missing-original", "damaged-original")


def examine(storage: Storage) -> list[Problem]:
    """Every inconsistency between the database and the storage, in a stable order."""
    problems: list[Problem] = []
    known: set[str] = set()
    # One listing with sizes rather than a request per asset: on S3, one call per 1000 keys.
    stored = dict(storage.sizes())
    for asset in db.session.scalars(select(Asset).order_by(Asset.id)):
        known.add(asset.key)
        problems.extend(_check_asset(stored, asset))
    for key in sorted(stored):
        if key not in known:
            detail = _("파일에 해당하는 응모작이 없음: %(key)s", key=key)
            problems.append(Problem("orphan-file", detail, key=key))
    for path in sorted(_stale_temp_files(storage)):
        detail = _("중단된 업로드의 임시 파일: %(name)s", name=path.name)
        problems.append(Problem("stale-temp", detail, path=path))
    problems.extend(_upload_problems(storage))
    problems.extend(_playback_problems())
    return problems


def _upload_problems(storage: Storage) -> Iterator[Problem]:
    expiry = current_app.config["UPLOAD_EXPIRY"]
    for upload in uploads_in_flight.expired(utcnow(), expiry):
        detail = _(
            "보관 시간이 지난 이어 올리기 업로드: %(name)s (%(size)s/%(length)s바이트)",
            name=upload.id,
            size=uploads_in_flight.offset_of(upload),
            length=upload.length,
        )
        if upload.multipart is not None:  # S3: repairing aborts it, and deletes its tail
            detail += f" [S3 multipart {upload.multipart}]"
        yield Problem("expired-upload", detail, key=upload.id)
    for path in sorted(uploads_in_flight.stray_files(STALE_TEMP_SECONDS)):
        detail = _("중단된 업로드의 임시 파일: %(name)s", name=path.name)
        yield Problem("stale-temp", detail, path=path)
    if isinstance(storage, S3Storage):
        yield from _orphans_in_bucket(storage)


def _orphans_in_bucket(storage: S3Storage) -> Iterator[Problem]:
    """Multipart uploads and in-flight objects in the bucket that no upload row names: a
    server died between starting one and committing its row, or between removing a row and
    its objects. The expired uploads' own are `expired-upload` above."""
    rows = {
        row.id: row.multipart for row in db.session.execute(select(Upload.id, Upload.multipart))
    }
    cutoff = utcnow() - ORPHAN_GRACE
    for name, multipart, started in sorted(storage.multipart_uploads()):
        if rows.get(name) != multipart and started < cutoff:
            detail = _("업로드 기록이 없는 S3 멀티파트 업로드: %(name)s", name=name)
            yield Problem("orphan-multipart", detail, key=name, multipart=multipart)
    for name, modified in sorted(storage.flight_objects()):
        if name.split(".", 1)[0] not in rows and modified < cutoff:
            detail = _("업로드 기록이 없는 S3 임시 객체: %(name)s", name=name)
            yield Problem("orphan-flight", detail, key=name)


@dataclass
class Repair:
    """What `repair` left broken, and the video entries whose playback job must be queued."""

    remaining: list[Problem] = field(default_factory=list)
    requeue: list[int] = field(default_factory=list)


def repair(storage: Storage, problems: list[Problem]) -> Repair:
    """Mend what can be mended (the caller commits, then queues `requeue`)."""
    result = Repair()
    for problem in problems:
        if not problem.repairable:
            result.remaining.append(problem)
        elif problem.kind == "orphan-file":
            storage.delete(problem.key)
        elif problem.kind == "stale-temp":
            problem.path.unlink(missing_ok=True)
        elif problem.kind == "orphan-multipart":
            storage.abort_multipart(problem.key, problem.multipart)
        elif problem.kind == "orphan-flight":
            storage.delete_flight(problem.key)
        elif problem.kind == "expired-upload":
            upload = db.session.get(Upload, problem.key)
            if upload is not None:
                # The row goes with the caller's commit; a file left by a failed commit is
                # reported again (its row expired) and removed by the next repair.
                uploads_in_flight.remove_file(uploads_in_flight.forget(upload))
        elif problem.kind.startswith("playback-"):
            playback.retry(db.session.get(Entry, problem.entry_id))
            result.requeue.append(problem.entry_id)
        elif (asset := db.session.get(Asset, problem.asset_id)).role == "full":
            # A judge's zoom copy is made again on the next request for it. Its file goes
            # once the row's delete has committed, never before.
            db.session.delete(asset)
            delete_once_committed([asset.key])
        elif asset.role == "playback":
            # A lost playback copy is made again by the background job, not here.
            entry = asset.entry
            db.session.delete(asset)
            playback.retry(entry)
            result.requeue.append(entry.id)
        elif not _rebuild_derivative(storage, asset):
            result.remaining.append(problem)
    return result


def _check_asset(stored: dict[str, int], asset: Asset) -> Iterator[Problem]:
    receipt, role = asset.entry.receipt_display, asset.role
    which = "original" if asset.role == "original" else "derivative"
    size = stored.get(asset.key)
    if size is None:
        detail = _(
            "응모작 %(receipt)s의 %(role)s 파일이 없음: %(key)s",
            receipt=receipt,
            role=role,
            key=asset.key,
        )
        yield Problem(f"missing-{which}", detail, asset.key, asset.id)
    elif size != asset.size:
        detail = _(
            "응모작 %(receipt)s의 %(role)s 파일 크기 %(size)s가"
            " 기록된 %(recorded)s와 다름: %(key)s",
            receipt=receipt,
            role=role,
            size=size,
            recorded=asset.size,
            key=asset.key,
        )
        yield Problem(f"damaged-{which}", detail, asset.key, asset.id)


def _playback_problems() -> Iterator[Problem]:
    stalled_before = utcnow() - STALLED_PLAYBACK
    query = select(Entry).where(Entry.playback_status.in_(("failed", "pending"))).order_by(Entry.id)
    for entry in db.session.scalars(query):
        if entry.playback_status == "failed":
            detail = _(
                "응모작 %(receipt)s의 재생용 변환 실패: %(error)s",
                receipt=entry.receipt_display,
                error=entry.playback_error,
            )
            yield Problem("playback-failed", detail, entry_id=entry.id)
        elif entry.created_at < stalled_before:
            detail = _(
                "응모작 %(receipt)s의 재생용 변환이 오래 대기 중", receipt=entry.receipt_display
            )
            yield Problem("playback-stalled", detail, entry_id=entry.id)


def _rebuild_derivative(storage: Storage, asset: Asset) -> bool:
    entry = asset.entry
    original = entry.asset("original")
    if original is None:
        return False
    try:
        with storage.local_copy(original.key) as path:
            if entry.is_video:
                video = inspect_video(path, max_seconds=10**6, min_seconds=0)
                big, small = video.poster, video.thumbnail
            else:
                limits = limits_from(current_app.config, current_app.instance_path)
                photo = process_photo(path, min_long_side=1, max_pixels=10**10, limits=limits)
                big, small = photo.preview, photo.thumbnail
    except (Rejected, FileNotFoundError):
        return False
    derivative = big if asset.role == "preview" else small
    # A new key for the new file: the old one stays until the row points at the new one and
    # that has committed; if the commit fails, the new file goes instead.
    key = storage.new_key("derived", derivative.extension)
    asset.size = storage.put(derivative.data, key)
    remove_unless_committed([key])
    delete_once_committed([asset.key])
    asset.key = key
    asset.width, asset.height = derivative.width, derivative.height
    return True


def _stale_temp_files(storage: Storage) -> Iterator[Path]:
    """Temporary files whose upload is over: its process is gone, or it is a day old."""
    now = time.time()
    for path in storage.temp_files():
        if now - path.stat().st_mtime > STALE_TEMP_SECONDS or not _writer_alive(path):
            yield path


def _writer_alive(path: Path) -> bool:
    # Names are upload-<pid>-<random>.part (see TempFolder.temp_file).
    try:
        pid = int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
