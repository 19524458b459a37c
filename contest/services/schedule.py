"""Judges behind schedule, and the daily reminder each of them may get.

A judge is behind schedule in an open round with a deadline when they still have work there
(entries they are given, neither scored nor recused: `judging.progress`) and either the
deadline has passed, or at their own pace (`jury.pace`) that work would not be done by the
deadline. A pace means little before the round has been open for a whole pace window, so until
then nobody is behind (unless the deadline has passed). Without a deadline nobody is behind.
Only active judges are listed: a disabled judge is given no work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, func, select

from contest.core.extensions import db
from contest.models import JudgeCategory, JudgeReminder, Recusal, Round, Score
from contest.services import judging, jury
from contest.services.rounds import entry_ids_in


@dataclass(frozen=True)
class Behind:
    """A judge behind schedule: what they have left, their pace, and the time left."""

    judge_id: int
    name: str
    email: str | None
    remaining: int
    pace: float  # their scores per hour over the pace window
    hours_left: float  # until the deadline (negative: passed)

    @property
    def hours_needed(self) -> float | None:
        """Hours their remaining work takes at their pace (None: no pace)."""
        return self.remaining / self.pace if self.pace > 0 else None


def behind_schedule(round_: Round | None, now: datetime) -> list[Behind]:
    """The active judges behind schedule in the round, by name (see the module's docstring)."""
    if round_ is None or round_.status != "open" or round_.deadline is None:
        return []
    hours_left = (round_.deadline - now).total_seconds() / 3600
    window = timedelta(seconds=current_app.config["JURY_PACE_WINDOW"])
    settled = round_.opened_at is None or now - round_.opened_at >= window
    if hours_left > 0 and not settled:
        return []
    judges = [j for j in jury.judges() if j.active]
    remaining = _remaining(round_, [j.id for j in judges])
    paces = jury.paces(round_, now)
    found = []
    for judge in judges:
        left, pace = remaining[judge.id], paces.get(judge.id, 0.0)
        if left == 0 or (hours_left > 0 and left <= pace * hours_left):
            continue
        name = judge.display_name or judge.username
        found.append(Behind(judge.id, name, judge.email, left, pace, hours_left))
    return found


def _remaining(round_: Round, judge_ids: list[int]) -> dict[int, int]:
    """Per judge: the entries they are given in the round and have neither scored nor recused
    (what `judging.progress` counts as to do), in three grouped queries for the whole jury;
    a judge limited to some categories is counted on their own."""
    held = entry_ids_in(round_)
    entries = db.session.scalar(select(func.count()).select_from(held.subquery()))
    recused = dict(
        db.session.execute(
            select(Recusal.judge_id, func.count())
            .where(Recusal.entry_id.in_(held))
            .group_by(Recusal.judge_id)
        ).all()
    )
    not_recused = ~exists().where(
        Recusal.entry_id == Score.entry_id, Recusal.judge_id == Score.judge_id
    )
    scored = dict(
        db.session.execute(
            select(Score.judge_id, func.count())
            .where(Score.round_id == round_.id, Score.entry_id.in_(held), not_recused)
            .group_by(Score.judge_id)
        ).all()
    )
    limited = set(
        db.session.scalars(
            select(JudgeCategory.judge_id).where(JudgeCategory.round_id == round_.id)
        )
    )
    return {
        judge_id: (
            sum(c.to_do for c in judging.progress(round_, judge_id))
            if judge_id in limited
            else entries - recused.get(judge_id, 0) - scored.get(judge_id, 0)
        )
        for judge_id in judge_ids
    }


def claim_reminder(judge_id: int, day: date) -> bool:
    """Claim the judge's reminder of this (Seoul) day; False when it is already claimed.

    Called inside the write transaction (`write_transaction`), which serialises workers on
    every database; the row's key (judge, day) holds it in the schema as well.
    """
    if db.session.get(JudgeReminder, (judge_id, day)) is not None:
        return False
    db.session.add(JudgeReminder(judge_id=judge_id, sent_on=day))
    db.session.flush()
    return True


def release_reminder(judge_id: int, day: date) -> None:
    """Give a claim back (the mail was not sent), so a later run may try again that day."""
    db.session.execute(
        delete(JudgeReminder).where(
            JudgeReminder.judge_id == judge_id, JudgeReminder.sent_on == day
        )
    )


def claim_reminders(round_: Round | None, now: datetime, day: date) -> list[Behind]:
    """Claim today's reminder for every judge behind schedule with an e-mail address."""
    return [b for b in behind_schedule(round_, now) if b.email and claim_reminder(b.judge_id, day)]


def reminded_on(day: date) -> set[int]:
    """The judges reminded on this day (for the dashboard)."""
    return set(
        db.session.scalars(select(JudgeReminder.judge_id).where(JudgeReminder.sent_on == day))
    )
