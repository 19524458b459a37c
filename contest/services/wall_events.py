"""The log of entries going on and off display, which every open wall follows.

Why a table and not only a message bus: `make run` serves with two gunicorn worker processes (and
a scaled-out site with several app servers), so an approval handled by one process must reach
walls held open by another. The event is a row written in the same transaction as the change it
announces, so it exists exactly when the change committed (nothing is announced for a rolled-back
approval), its id orders it for every process, and a wall that reconnects asks for the events
after the last id it saw (`Last-Event-ID`) and misses nothing. Each worker process reads the log
every WALL_EVENT_POLL_SECONDS for all its walls (one indexed query; `core/wall_feed.py`).

Ids follow commit order because every write takes the write lock first (`begin_write`: BEGIN
IMMEDIATE on SQLite, an advisory lock on PostgreSQL): a reader that has seen id n never misses a
smaller id committed later, as it could with concurrent writers and a PostgreSQL sequence.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from contest.core.extensions import db
from contest.models import WallEvent, utcnow

SHOWN, REMOVED = "shown", "removed"
# Events older than this are dropped when a new one is written: a wall away longer than a day
# reloads its whole list instead (the stream tells it to "resync").
KEEP = timedelta(days=1)


def record(public_id: str, action: str, now: datetime | None = None) -> None:
    """Announce that an entry went on ("shown") or off ("removed") display (the caller commits)."""
    if action not in (SHOWN, REMOVED):
        raise ValueError(f"unknown wall event {action!r}")
    now = now or utcnow()
    db.session.add(WallEvent(public_id=public_id, action=action, at=now))
    db.session.flush()
    # After the insert, never before: SQLite numbers a row after the highest one left, so an
    # emptied table would hand out ids the walls have already seen.
    db.session.execute(delete(WallEvent).where(WallEvent.at < now - KEEP))


def after(last_id: int, limit: int = 200) -> list[WallEvent]:
    """The events after `last_id`, oldest first, at most `limit` of them."""
    query = select(WallEvent).where(WallEvent.id > last_id).order_by(WallEvent.id).limit(limit)
    return list(db.session.scalars(query))


def latest_id() -> int:
    """The id of the newest event, 0 when there is none: where a new wall starts following."""
    return db.session.scalar(select(func.max(WallEvent.id))) or 0


def oldest_id() -> int | None:
    """The id of the oldest event still kept, None when there is none."""
    return db.session.scalar(select(func.min(WallEvent.id)))


def can_replay(last_id: int) -> bool:
    """Whether every event after `last_id` is still kept (else the wall reloads its list)."""
    if last_id > latest_id():
        return False  # an id from another database (the site was restored or rebuilt)
    oldest = oldest_id()
    return oldest is None or oldest <= last_id + 1
