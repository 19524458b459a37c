"""The stored queue counts behind /judge/next, kept right inside every transaction that moves them.

`Entry.queue_scores` is what `judging.next_entry_id` walks. It is recomputed, inside the
transaction that changes it, for the entries each change can move: a score given or removed, a
recusal declared or withdrawn, an entry added, rejected or restored, an entry advancing into a
round, a round opened, closed, reopened or removed. ORM flush events do it, so no service (or
test inserting a row) can forget; bulk INSERTs bypass them and must call `recount_queue` after.

The events are registered by `init_app`, which `create_app` calls: a script that builds the app
keeps the counts right whichever modules it imports.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    event,
    exists,
    func,
    inspect,
    or_,
    select,
    update,
)

from contest.core.extensions import db
from contest.models import Entry, Recusal, Round, RoundEntry, Score
from contest.services.rounds import OUT_OF_JUDGING


def init_app(app: Flask | None = None) -> None:
    """Register the flush events that keep the counts right (once per process)."""
    for target, name, listener in _LISTENERS:
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)


def queue_place() -> ColumnElement:
    """What `Entry.queue_scores` should hold, as SQL correlated to an entry row.

    NULL unless the contest's open round holds the entry (not rejected; in the round, for a
    round of advancing entries); else the entry's scores in that round less those of judges
    recused from it. Portable SQL: it also backfills the column in its migration.
    """
    # Correlated explicitly: auto-correlation reaches only the enclosing query, not the entry
    # row two levels up.
    open_round = (
        select(Round.id)
        .where(Round.contest_id == Entry.contest_id, Round.status == "open")
        .correlate(Entry)
        .scalar_subquery()
    )
    advanced = (
        exists()
        .where(RoundEntry.round_id == Round.id, RoundEntry.entry_id == Entry.id)
        .correlate(Round, Entry)
    )
    held = (
        exists()
        .where(
            Round.contest_id == Entry.contest_id,
            Round.status == "open",
            or_(Round.takes_all_entries.is_(True), advanced),
        )
        .correlate(Entry)
    )
    recused = (
        exists()
        .where(Recusal.entry_id == Score.entry_id, Recusal.judge_id == Score.judge_id)
        .correlate(Score)
    )
    counted = (
        select(func.count())
        .select_from(Score)
        .where(Score.round_id == open_round, Score.entry_id == Entry.id, ~recused)
        .correlate(Entry)
        .scalar_subquery()
    )
    return case((and_(Entry.status.not_in(OUT_OF_JUDGING), held), counted), else_=None)


def recount_queue(contest_id: int | None = None, connection: Connection | None = None) -> None:
    """Recompute every stored queue count (of one contest, or of all); the caller commits."""
    statement = update(Entry).values(queue_scores=queue_place())
    if contest_id is not None:
        statement = statement.where(Entry.contest_id == contest_id)
    (connection or db.session.connection()).execute(statement)


def queue_drift() -> list[int]:
    """Ids of the entries whose stored queue count is wrong (it should be none)."""
    return list(
        db.session.scalars(
            select(Entry.id).where(Entry.queue_scores.is_distinct_from(queue_place()))
        )
    )


def _recount_entries(connection: Connection, entry_ids: set[int]) -> None:
    """Recompute the stored queue counts of these entries, on the flushing connection."""
    entry_ids.discard(None)
    if entry_ids:
        connection.execute(
            update(Entry).where(Entry.id.in_(entry_ids)).values(queue_scores=queue_place())
        )


def _old_and_new(target, *names: str) -> tuple[bool, set]:
    """Whether any of these attributes changed in this flush, and every value they held."""
    state = inspect(target)
    changed, values = False, set()
    for name in names:
        history = state.attrs[name].history
        changed = changed or history.has_changes()
        values.update(history.deleted or ())
        values.add(getattr(target, name))
    return changed, values


def _row_came_or_went(mapper, connection, target) -> None:
    """A score, recusal or advancing entry came or went: its entry's count moves."""
    _recount_entries(connection, {target.entry_id})


def _score_moved(mapper, connection, score: Score) -> None:
    """Recount the entries of a score moved to another entry, round or judge."""
    # A revision changes values and totals only; a score moved to another entry, round or
    # judge (no page does that) moves both entries' counts.
    changed, entry_ids = _old_and_new(score, "entry_id")
    if changed or _old_and_new(score, "round_id", "judge_id")[0]:
        _recount_entries(connection, entry_ids)


def _entry_added(mapper, connection, entry: Entry) -> None:
    """A new entry gets its count."""
    _recount_entries(connection, {entry.id})


def _entry_changed(mapper, connection, entry: Entry) -> None:
    """Recount an entry rejected, restored or moved to another contest."""
    if _old_and_new(entry, "status", "contest_id")[0]:
        _recount_entries(connection, {entry.id})


def _round_came_or_went(mapper, connection, round_: Round) -> None:
    """A round added or removed: recount its contest."""
    recount_queue(round_.contest_id, connection)


def _round_changed(mapper, connection, round_: Round) -> None:
    """A round opened, closed, reopened or moved: recount the contests concerned."""
    # Only the contest ids are recounted: the other attributes' values are strings and flags.
    changed = _old_and_new(round_, "status", "takes_all_entries")[0]
    moved, contest_ids = _old_and_new(round_, "contest_id")
    for contest_id in contest_ids if changed or moved else ():
        recount_queue(contest_id, connection)


_LISTENERS = (
    (Score, "after_insert", _row_came_or_went),
    (Score, "after_delete", _row_came_or_went),
    (Recusal, "after_insert", _row_came_or_went),
    (Recusal, "after_delete", _row_came_or_went),
    (RoundEntry, "after_insert", _row_came_or_went),
    (RoundEntry, "after_delete", _row_came_or_went),
    (Score, "after_update", _score_moved),
    (Entry, "after_insert", _entry_added),
    (Entry, "after_update", _entry_changed),
    (Round, "after_insert", _round_came_or_went),
    (Round, "after_delete", _round_came_or_went),
    (Round, "after_update", _round_changed),
)
