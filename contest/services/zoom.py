"""Full-resolution views of photo entries for judges, made on first request and kept."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from contest.core.database import begin_write
from contest.core.extensions import db
from contest.core.file_transactions import remove_unless_committed
from contest.media.photo import full_resolution
from contest.models import Asset, Entry
from contest.storage import get_storage


def full_asset(entry: Entry) -> Asset | None:
    """The entry's full-resolution derivative, made now if it does not exist yet (commits).

    None for videos, and for an entry whose original is missing. The decode happens outside
    any transaction; two judges asking at once both decode, and the second one's copy is
    dropped by the (entry, role) unique constraint.
    """
    existing = entry.asset("full")
    if existing is not None or entry.is_video:
        return existing
    original = entry.asset("original")
    storage = get_storage()
    if original is None or not storage.exists(original.key):
        return None
    entry_id = entry.id
    db.session.rollback()  # no transaction stays open through the decode
    with storage.local_copy(original.key) as path:
        derivative = full_resolution(path)
    key = storage.new_key("derived", derivative.extension)
    storage.put(derivative.data, key)
    begin_write()
    asset = Asset(
        entry_id=entry_id,
        role="full",
        key=key,
        content_type=derivative.content_type,
        size=len(derivative.data),
        width=derivative.width,
        height=derivative.height,
    )
    db.session.add(asset)
    remove_unless_committed([key])
    try:
        db.session.commit()
    except IntegrityError:  # another request made it first: use theirs
        db.session.rollback()
        return db.session.get(Entry, entry_id).asset("full")
    return asset
