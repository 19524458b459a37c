"""The browser-playable copy of a video entry: made in the background, recorded when ready.

Phones record HEVC in MOV, which Chrome and Firefox do not play, and their files carry the
place they were shot: every video gets an H.264/AAC MP4 copy with no metadata, at most 720p.
"""

from __future__ import annotations

import os
import secrets

from flask import current_app

from contest.core.database import begin_write
from contest.core.extensions import db
from contest.core.file_transactions import remove_unless_committed
from contest.media.video import make_playback
from contest.models import Asset, Entry
from contest.storage import get_storage

ERROR_LIMIT = 500


def make_for_entry(entry_id: int) -> None:
    """Make and record the playback copy; record the failure instead when it cannot be made."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or not entry.is_video or entry.asset("playback") is not None:
        return  # withdrawn meanwhile, or already done by an earlier run of the job
    original = entry.asset("original")
    storage = get_storage()
    target = storage.tmp / f"upload-{os.getpid()}-{secrets.token_hex(8)}.mp4"
    db.session.rollback()  # no transaction stays open through minutes of transcoding
    try:
        with storage.local_copy(original.key) as source:
            make_playback(source, target, timeout=current_app.config["VIDEO_TRANSCODE_TIMEOUT"])
    except Exception as error:  # noqa: BLE001 - any failure is recorded for the admins
        target.unlink(missing_ok=True)
        current_app.logger.warning("playback copy of entry %s failed: %s", entry_id, error)
        record_failure(entry_id, f"{type(error).__name__}: {error}")
        return
    _record_success(entry_id, target)


def _record_success(entry_id: int, target) -> None:
    storage = get_storage()
    key = storage.new_key("derived", ".mp4")
    size = target.stat().st_size
    storage.adopt(target, key)
    begin_write()
    entry = db.session.get(Entry, entry_id)
    if entry is None:  # withdrawn while the copy was being made
        db.session.rollback()
        storage.delete(key)
        return
    entry.assets.append(Asset(role="playback", key=key, content_type="video/mp4", size=size))
    entry.playback_status = "ready"
    entry.playback_error = None
    remove_unless_committed([key])
    db.session.commit()


def record_failure(entry_id: int, reason: str) -> None:
    """Mark the copy as failed, with why: `doctor` lists it and `doctor --repair` tries again."""
    begin_write()
    entry = db.session.get(Entry, entry_id)
    if entry is not None:
        entry.playback_status = "failed"
        entry.playback_error = reason[:ERROR_LIMIT]
    db.session.commit()


def retry(entry: Entry) -> None:
    """Mark a video's playback copy as wanted again (the caller commits, then enqueues)."""
    entry.playback_status = "pending"
    entry.playback_error = None
