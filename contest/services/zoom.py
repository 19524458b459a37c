"""Judges zoom into photos at full resolution: a metadata-free copy, made once, judges only.

The first judge to zoom into a photo is served a copy made on the spot; the copy is stored at
once, and a job records it (`core.jobs`), so the judge's GET itself never writes a row.
Later requests are served the recorded copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from contest.core.extensions import db
from contest.core.file_transactions import delete_once_committed, remove_unless_committed
from contest.media.photo import full_resolution
from contest.media.photo_worker import limits_from
from contest.models import Asset, Entry
from contest.storage import get_storage

ROLE = "full"


@dataclass(frozen=True)
class ZoomCopy:
    """A full-resolution copy just made and stored, not yet recorded."""

    entry_id: int
    key: str
    data: bytes
    content_type: str
    width: int
    height: int


def recorded_copy(entry: Entry) -> Asset | None:
    """The entry's recorded full-resolution copy, if it has one."""
    return entry.asset(ROLE)


def original_to_zoom(entry: Entry) -> str | None:
    """The stored key a zoom copy is made from: None for a video or a missing original."""
    original = entry.asset("original")
    if entry.is_video or original is None or not get_storage().exists(original.key):
        return None
    return original.key


def make_copy(entry_id: int, original_key: str) -> ZoomCopy:
    """Decode the original, store the upright metadata-free copy (no database work).

    The caller ends its transaction first: none should stay open through a full-size decode.
    """
    storage = get_storage()
    with storage.local_copy(original_key) as path:
        limits = limits_from(current_app.config, current_app.instance_path)
        derivative = full_resolution(path, limits)
    key = storage.new_key("derived", derivative.extension)
    storage.put(derivative.data, key)
    return ZoomCopy(
        entry_id, key, derivative.data, derivative.content_type, derivative.width, derivative.height
    )


def record_copy(
    entry_id: int, key: str, content_type: str, size: int, width: int, height: int
) -> None:
    """Record a stored copy as the entry's (the caller commits).

    Two judges zooming at once both make one: the first recorded stays, the other's file is
    deleted, as is the file of an entry withdrawn meanwhile.
    """
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.asset(ROLE) is not None:
        delete_once_committed([key])
        return
    entry.assets.append(
        Asset(role=ROLE, key=key, content_type=content_type, size=size, width=width, height=height)
    )
    remove_unless_committed([key])
    db.session.flush()
