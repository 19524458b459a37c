"""Judging rounds: which round is open, which entries it holds, and the fair's first round."""

from __future__ import annotations

from sqlalchemy import Select, select

from .extensions import db
from .models import Contest, Criterion, Entry, Round, RoundEntry, utcnow

# The fair's default criteria: relevance to Government 3.0 40%, creativity 30%, quality 30%.
DEFAULT_CRITERIA = (
    ("relevance", "주제 적합성", 40),
    ("creativity", "창의성", 30),
    ("quality", "완성도", 30),
)
SCORE_MIN, SCORE_MAX = 1, 10
# Entries in these statuses are out of every judging queue (an admin rejected them).
OUT_OF_JUDGING = ("rejected",)


def active_round(contest: Contest) -> Round | None:
    """The contest's open round, if any."""
    return db.session.scalar(
        select(Round).where(Round.contest_id == contest.id, Round.status == "open")
    )


def entry_ids_in(round_: Round) -> Select:
    """A select of the ids of the entries a round holds (rejected entries never count).

    Every query about a round's entries (queues, progress, leaderboards) builds on this one,
    so the rule lives in one place.
    """
    query = select(Entry.id).where(
        Entry.contest_id == round_.contest_id, Entry.status.not_in(OUT_OF_JUDGING)
    )
    if not round_.takes_all_entries:
        query = query.join(RoundEntry, RoundEntry.entry_id == Entry.id).where(
            RoundEntry.round_id == round_.id
        )
    return query


def total_of(round_: Round, values: dict[str, int]) -> float:
    """A score's total: Σ weight × value / 100 over the criteria (1–10), or 1/0 for yes/no."""
    if round_.method == "screening":
        return 1.0 if values.get("verdict") else 0.0
    return sum(c.weight * values[c.slug] for c in round_.criteria) / 100


def seed_first_round(contest: Contest) -> Round | None:
    """Give a contest without rounds its first, open, scoring round with the default criteria."""
    if db.session.scalar(select(Round.id).where(Round.contest_id == contest.id)) is not None:
        return None
    round_ = Round(
        contest=contest,
        number=1,
        name="1차 심사",
        method="scoring",
        status="open",
        takes_all_entries=True,
        opened_at=utcnow(),
        criteria=[
            Criterion(slug=slug, name=name, weight=weight, position=i)
            for i, (slug, name, weight) in enumerate(DEFAULT_CRITERIA)
        ],
    )
    db.session.add(round_)
    db.session.flush()
    return round_
