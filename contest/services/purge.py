"""Erasing personal data once its retention period is over (the personal-information law).

Winners keep theirs: the prize must reach them and the published results name them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from contest.core.extensions import db
from contest.core.file_transactions import delete_once_committed
from contest.models import Award, Contest, Entry, User, utcnow
from contest.services.audit import audit


@dataclass(frozen=True)
class Purged:
    """What one purge did to one contest."""

    contest: str
    rule: str  # "published" (all entries) or "unpublished" (entries submitted before)
    entries: int  # entries whose personal data was erased by this run
    originals: int  # original files deleted by this run


def purge_personal_data(before: datetime, originals: bool, actor: User | None) -> list[Purged]:
    """Erase the personal data of non-winners whose retention period is over.

    In scope: every entry of a contest whose results were published before `before`; for a
    contest not yet published, the entries submitted before `before`. Winners (entries with
    an award) keep their data: the prize must reach them and the published results name them.
    An erased entry keeps its receipt, title, derivatives, scores and awards, so the results
    stay reproducible; name, e-mail and phone become "" (the columns are NOT NULL), the
    guardian's NULL ("" for an under-14 entry, which the schema requires to have one), the
    sent file name "". With `originals`, its original file goes
    too (the Asset row now, the file once the deletion has committed). Running it again
    changes nothing more. One audit row per run. Flushes; the caller commits.
    """
    now = utcnow()
    done = []
    for contest in db.session.scalars(select(Contest).order_by(Contest.id)):
        published = contest.results_published_at
        if published is not None and published >= before:
            continue
        query = _non_winners(contest)
        if published is None:
            query = query.where(Entry.created_at < before)
        erased, keys = 0, []
        for entry in db.session.scalars(query):
            if entry.personal_data_purged_at is None:
                _erase(entry, now)
                erased += 1
            if originals and (original := entry.asset("original")) is not None:
                keys.append(original.key)
                entry.assets.remove(original)
        db.session.flush()
        delete_once_committed(keys)
        rule = "unpublished" if published is None else "published"
        done.append(Purged(contest.title, rule, erased, len(keys)))
    audit(
        actor,
        "purge-personal-data",
        "entries",
        None,
        {
            "before": before.isoformat(),
            "originals": originals,
            "by": actor.username if actor else "cli",
            "contests": [vars(p) for p in done],
        },
    )
    db.session.flush()
    return done


def _non_winners(contest: Contest) -> Select:
    return (
        select(Entry)
        .where(Entry.contest_id == contest.id, Entry.id.not_in(select(Award.entry_id)))
        .order_by(Entry.id)
    )


def _erase(entry: Entry, now: datetime) -> None:
    entry.entrant_name = entry.email = entry.phone = ""
    # The schema requires a guardian for an under-14 entry (guardian_for_under14): "" there.
    entry.guardian_name = entry.guardian_phone = "" if entry.under14 else None
    entry.original_filename = ""
    entry.personal_data_purged_at = now
