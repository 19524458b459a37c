"""What the public may see: the booth's wall and the gallery show the same entries.

An entry is on display only when all of these hold: its entrant agreed to publication, an admin
approved it for display (or WALL_AUTO_APPROVE did on arrival), and it is neither rejected nor
withdrawn (a withdrawn entry no longer exists). One filter, so the wall, the gallery and the vote
can never disagree about it.

Every change that puts an entry on display or takes it off (approving, hiding, rejecting,
restoring, withdrawing) records a wall event in the same transaction (`wall_events`), so every
open wall follows within the streams' poll interval.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import selectinload

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Contest, Entry, User
from contest.services import wall_events
from contest.services.audit import audit

STATES = ("pending", "approved", "hidden")


class DisplayError(Refusal):
    """An entry that cannot be put on display."""


def on_display() -> ColumnElement[bool]:
    """The WHERE clause of an entry the public may see."""
    return and_(
        Entry.consent_publish.is_(True),
        Entry.display == "approved",
        Entry.status == "submitted",
    )


def is_on_display(entry: Entry) -> bool:
    """The same rule for one loaded entry."""
    return entry.consent_publish and entry.display == "approved" and entry.status == "submitted"


def approve(entry: Entry, actor: User | None, now: datetime) -> None:
    """Put an entry on the wall and in the gallery (the caller commits).

    Refused (409) without the entrant's consent to publication, or for a rejected entry; an
    entry already approved stays as it is and announces nothing twice.
    """
    if not entry.consent_publish:
        raise DisplayError(_l("공개에 동의하지 않은 작품은 전시할 수 없습니다."), 409)
    if entry.status != "submitted":
        raise DisplayError(_l("반려된 작품은 전시할 수 없습니다."), 409)
    if entry.display == "approved":
        return
    _decide(entry, "approved", actor, now)
    wall_events.record(entry.public_id, wall_events.SHOWN, now)


def hide(entry: Entry, actor: User | None, now: datetime) -> None:
    """Keep an entry off the wall and out of the gallery (the caller commits); walls drop it."""
    if entry.display == "hidden":
        return
    was_shown = is_on_display(entry)
    _decide(entry, "hidden", actor, now)
    if was_shown:
        wall_events.record(entry.public_id, wall_events.REMOVED, now)


def on_arrival(entry: Entry, auto_approve: bool, now: datetime) -> None:
    """A new entry's display state: approved at once under WALL_AUTO_APPROVE when its entrant
    agreed to publication, else pending until an admin decides (the caller commits)."""
    if auto_approve and entry.consent_publish and entry.status == "submitted":
        entry.display = "approved"
        entry.display_decided_at = now
        db.session.flush()
        wall_events.record(entry.public_id, wall_events.SHOWN, now)


def announce_removal(entry: Entry) -> None:
    """Tell the walls an entry on display is leaving it (rejected, withdrawn); call before the
    change, while the entry still says whether it was shown (the caller commits)."""
    if is_on_display(entry):
        wall_events.record(entry.public_id, wall_events.REMOVED)


def announce_return(entry: Entry) -> None:
    """Tell the walls an entry is back on display (restored after a rejection, its playable
    copy ready): a wall shows it, or refreshes its card (the caller commits)."""
    if is_on_display(entry):
        wall_events.record(entry.public_id, wall_events.SHOWN)


def decisions_query(contest: Contest, state: str) -> Select:
    """The contest's consenting, submitted entries in this display state: pending ones oldest
    first (the queue an admin works through), decided ones latest decision first."""
    query = (
        select(Entry)
        .where(
            Entry.contest_id == contest.id,
            Entry.consent_publish.is_(True),
            Entry.status == "submitted",
            Entry.display == state,
        )
        .options(selectinload(Entry.assets))
    )
    if state == "pending":
        return query.order_by(Entry.created_at, Entry.id)
    return query.order_by(Entry.display_decided_at.desc(), Entry.id.desc())


def shown_entries(contest: Contest, limit: int) -> list[Entry]:
    """The contest's entries on display, newest first, at most `limit`."""
    query = (
        select(Entry)
        .where(Entry.contest_id == contest.id, on_display())
        .options(selectinload(Entry.assets))
        .order_by(Entry.created_at.desc(), Entry.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def shown_by_public_ids(public_ids: list[str]) -> dict[str, Entry]:
    """Those of these entries that are on display, by public id."""
    if not public_ids:
        return {}
    query = (
        select(Entry)
        .where(Entry.public_id.in_(public_ids), on_display())
        .options(selectinload(Entry.assets))
    )
    return {entry.public_id: entry for entry in db.session.scalars(query)}


def _decide(entry: Entry, state: str, actor: User | None, now: datetime) -> None:
    audit(
        actor,
        f"display-{state}",
        f"entry:{entry.id}",
        {"display": entry.display},
        {"display": state},
    )
    entry.display = state
    entry.display_decided_at = now
    db.session.flush()
