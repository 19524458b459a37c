"""The browser-playable copy of a video entry: made in the background, recorded when ready.

Phones record HEVC in MOV, which Chrome and Firefox do not play, and their files carry the
place they were shot: every video gets an H.264/AAC MP4 copy with no metadata, at most 720p.
The job (`core.jobs`) runs these steps and owns their transactions: `transcode` outside any
transaction, then `record_success` or `record_failure` in a short write of its own.
"""

from __future__ import annotations

import os
import secrets

from flask import current_app

from contest.core.extensions import db
from contest.core.file_transactions import delete_once_committed, remove_unless_committed
from contest.media.video import make_playback
from contest.models import Asset, Entry
from contest.storage import get_storage

ERROR_LIMIT = 500


def original_needing_copy(entry_id: int) -> str | None:
    """The stored key of the video to transcode, or None when there is nothing to do."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or not entry.is_video or entry.asset("playback") is not None:
        return None  # withdrawn meanwhile, or already done by an earlier run of the job
    return entry.asset("original").key


def transcode(original_key: str) -> tuple[str, int]:
    """Make the playback copy of a stored video and store it: its new key and size in bytes.

    No database work. Raises whatever the transcoder raised; nothing is left behind then.
    """
    storage = get_storage()
    target = storage.tmp / f"upload-{os.getpid()}-{secrets.token_hex(8)}.mp4"
    try:
        with storage.local_copy(original_key) as source:
            make_playback(source, target, timeout=current_app.config["VIDEO_TRANSCODE_TIMEOUT"])
        key, size = storage.new_key("derived", ".mp4"), target.stat().st_size
        storage.adopt(target, key)
    finally:
        target.unlink(missing_ok=True)
    return key, size


def record_success(entry_id: int, key: str, size: int) -> None:
    """Attach the stored copy to its entry (the caller commits); drop it if the entry is gone."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.asset("playback") is not None:
        # Withdrawn while the copy was being made, or recorded by a run before this one.
        delete_once_committed([key])
        return
    entry.assets.append(Asset(role="playback", key=key, content_type="video/mp4", size=size))
    entry.playback_status = "ready"
    entry.playback_error = None
    remove_unless_committed([key])
    db.session.flush()


def record_failure(entry_id: int, reason: str) -> None:
    """Mark the copy as failed, with why: `doctor` lists it and `doctor --repair` tries again.

    The caller commits.
    """
    entry = db.session.get(Entry, entry_id)
    if entry is not None:
        entry.playback_status = "failed"
        entry.playback_error = reason[:ERROR_LIMIT]
        db.session.flush()


def retry(entry: Entry) -> None:
    """Mark a video's playback copy as wanted again (the caller commits, then enqueues)."""
    entry.playback_status = "pending"
    entry.playback_error = None
