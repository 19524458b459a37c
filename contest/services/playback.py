"""The browser-playable copy of a video entry: made in the background, recorded when ready.

Phones record HEVC in MOV, which Chrome and Firefox do not play, and their files carry the
place they were shot: every video gets an H.264/AAC MP4 copy with no metadata. An H.264 source
of at most 1080p with AAC or no sound is remuxed (streams copied, in well under a second); any
other is transcoded to at most 720p (`media.video.make_playback`).
The job (`core.jobs`) runs these steps and owns their transactions: `transcode` outside any
transaction, then `record_success` or `record_failure` in a short write of its own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any, NamedTuple

from flask import current_app

from contest.core.extensions import db
from contest.core.file_transactions import delete_once_committed, remove_unless_committed
from contest.media.video import make_playback
from contest.models import Asset, Entry
from contest.services import display
from contest.storage import get_storage

ERROR_LIMIT = 500
# What every copy's time budget starts with, whatever its length: opening the file, the first
# frame's look for its rotation, the encoder's flush and a loaded machine's slack.
BUDGET_BASE_SECONDS = 60
# How much longer than the checked duration the copy may play: a frame's or an AAC frame's
# rounding, never the minutes an edit list or a lying header would add.
LENGTH_SLACK_SECONDS = 1


class Original(NamedTuple):
    """The stored video to transcode and the duration inspect_video measured for it."""

    key: str
    duration: float | None  # seconds; None only for a row older than the measurement


def original_needing_copy(entry_id: int) -> Original | None:
    """The stored video to transcode, or None when there is nothing to do."""
    entry = db.session.get(Entry, entry_id)
    if entry is None or not entry.is_video or entry.asset("playback") is not None:
        return None  # withdrawn meanwhile, or already done by an earlier run of the job
    return Original(entry.asset("original").key, entry.duration)


def time_budget(duration: float | None, config: Mapping[str, Any]) -> float:
    """Seconds the copy of a video of `duration` may take: derived from it, capped by the timeout.

    BUDGET_BASE_SECONDS + VIDEO_TRANSCODE_SECONDS_PER_SECOND x duration, at most
    VIDEO_TRANSCODE_TIMEOUT (which is the budget when the duration is unknown).
    """
    cap = config["VIDEO_TRANSCODE_TIMEOUT"]
    if duration is None:
        return cap
    return min(cap, BUDGET_BASE_SECONDS + config["VIDEO_TRANSCODE_SECONDS_PER_SECOND"] * duration)


def longest_copy(duration: float | None, config: Mapping[str, Any]) -> float:
    """The longest the copy may play: the checked duration plus a second (the limit if unknown)."""
    checked = config["VIDEO_MAX_SECONDS"] if duration is None else duration
    return checked + LENGTH_SLACK_SECONDS


def transcode(original: Original) -> tuple[str, int]:
    """Make the playback copy of a stored video and store it: its new key and size in bytes.

    No database work. Raises whatever the transcoder raised; nothing is left behind then.
    """
    config = current_app.config
    storage = get_storage()
    target = storage.tmp / f"upload-{os.getpid()}-{secrets.token_hex(8)}.mp4"
    try:
        with storage.local_copy(original.key) as source:
            make_playback(
                source,
                target,
                timeout=time_budget(original.duration, config),
                max_seconds=longest_copy(original.duration, config),
            )
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
    display.announce_return(entry)  # the walls swap its poster for the playing copy


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
