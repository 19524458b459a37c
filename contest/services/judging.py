"""Judging: which entry a judge sees next, saving and revising scores, recusal and progress."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import (
    Select,
    and_,
    case,
    exists,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import joinedload

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import (
    CalibrationEntry,
    Category,
    Entry,
    Recusal,
    Round,
    Score,
    User,
    utcnow,
)
from contest.services import jury
from contest.services.audit import audit
from contest.services.rounds import SCORE_MAX, SCORE_MIN, entry_ids_in, total_of

COMMENT_MAX = 2000  # characters of a judge's comment (the judge's form refuses longer)
# /judge/next picks at random among this many of the least-scored entries, taken from a random
# point of their ids: exactly uniform when as few tie, and the cost never grows with the round.
QUEUE_WINDOW = 32


class ScoreRefused(Refusal):
    """A score that cannot be saved: the round is closed, or the judge recused from the entry.

    What the judge typed is checked by the judge's form (`contest.judge.forms`) before this.
    """


@dataclass(frozen=True)
class CategoryProgress:
    """A judge's progress in one category of a round (recused entries count in neither)."""

    name: str
    kind: str
    total: int
    scored: int

    @property
    def to_do(self) -> int:
        """Entries still waiting for this judge."""
        return self.total - self.scored


def next_entry_id(
    round_: Round,
    judge_id: int,
    exclude: int | None = None,
    prefer: int | None = None,
    later: Sequence[int] = (),
) -> int | None:
    """The entry this judge should score next in the open round, or None when nothing is left.

    Among the round's entries this judge has neither scored nor recused, the one with the
    fewest counting scores so far (a recused judge's score does not count), so every entry
    reaches its quorum; ties are broken at random, so no order bias builds up, except that
    `prefer` (the entry whose preview the last page preloaded) wins a tie it is part of.

    `later` are the entries the judge skipped for now, the oldest skip first: they wait until
    no other entry is left for this judge, then come back in the order they were skipped. An
    id there that is scored, recused or out of the round is simply never handed out.

    The counts are the stored `Entry.queue_scores` (see `queue_counts`), walked in index
    order: the fewest is the first row this judge may take. The random choice is among up to
    `QUEUE_WINDOW` of the tied entries, the first ones from a random id between the tie's lowest
    and highest, wrapping round: uniform when no more than that tie, and with no preference
    for early or late entries when more do. One SQL query, whatever the size of the round
    (two once only skipped entries are left).

    Calibration entries come before anything else, in the admin's order (`calibration`); a
    judge limited to some categories is given only theirs (`jury.scope`).
    """
    mine = exists().where(
        Score.round_id == round_.id, Score.judge_id == judge_id, Score.entry_id == Entry.id
    )
    recused = exists().where(Recusal.judge_id == judge_id, Recusal.entry_id == Entry.id)
    takeable = entry_ids_in(round_).where(
        Entry.queue_scores >= 0, ~mine, ~recused, jury.scope(round_, judge_id)
    )
    if exclude is not None:
        takeable = takeable.where(Entry.id != exclude)
    if not later:
        return _least_scored(round_, takeable, prefer)
    chosen = _least_scored(round_, takeable.where(Entry.id.not_in(later)), prefer)
    if chosen is not None:
        return chosen
    waiting = set(db.session.scalars(takeable.where(Entry.id.in_(later))))
    return next((entry_id for entry_id in later if entry_id in waiting), None)


def _least_scored(round_: Round, takeable: Select, prefer: int | None) -> int | None:
    """One of the `takeable` entries with the fewest counting scores (see `next_entry_id`);
    the first takeable calibration entry before any."""
    fewest = (
        takeable.with_only_columns(Entry.queue_scores)
        .order_by(Entry.queue_scores)
        .limit(1)
        .scalar_subquery()
    )
    tied = takeable.where(Entry.queue_scores == fewest)
    # The tie's id range, from the index alone (whoever may take them): a random point in it.
    span = select(Entry.id).where(
        Entry.contest_id == round_.contest_id, Entry.queue_scores == fewest
    )
    low = span.with_only_columns(func.min(Entry.id)).scalar_subquery()
    high = span.with_only_columns(func.max(Entry.id)).scalar_subquery()
    pivot = low + random.randrange(2**31) % (high - low + 1)
    laps = [
        select(part.c.id, literal_column(str(lap)).label("lap"))
        for lap, part in enumerate(
            (
                tied.where(Entry.id >= pivot).order_by(Entry.id).limit(QUEUE_WINDOW).subquery(),
                tied.where(Entry.id < pivot).order_by(Entry.id).limit(QUEUE_WINDOW).subquery(),
            )
        )
    ]
    if prefer is not None:
        preferred = tied.where(Entry.id == prefer).subquery()
        laps.insert(0, select(preferred.c.id, literal_column("-1").label("lap")))
    calibrating = (
        takeable.join(
            CalibrationEntry,
            and_(CalibrationEntry.entry_id == Entry.id, CalibrationEntry.round_id == round_.id),
        )
        .order_by(CalibrationEntry.position, Entry.id)
        .limit(1)
        .subquery()
    )
    laps.insert(0, select(calibrating.c.id, literal_column("-2").label("lap")))
    around = union_all(*laps).subquery()
    window = (
        select(around.c.id, around.c.lap)
        .order_by(around.c.lap, around.c.id)
        .limit(QUEUE_WINDOW)
        .subquery()
    )
    # A calibration entry, when one is left, wins outright.
    query = select(window.c.id).order_by(case((window.c.lap == -2, 0), else_=1))
    if prefer is not None:
        query = query.order_by(case((window.c.id == prefer, 0), else_=1))
    return db.session.scalar(query.order_by(func.random()).limit(1))


def entry_for_judging(round_: Round, entry_id: int) -> Entry | None:
    """The entry if the round holds it (not rejected, in the round), else None."""
    # A primary-key probe on the round's own query, rather than an IN over all its entries.
    held = db.session.scalar(entry_ids_in(round_).where(Entry.id == entry_id))
    return None if held is None else db.session.get(Entry, held)


def is_recused(entry_id: int, judge_id: int) -> bool:
    """Whether this judge declared a conflict of interest with this entry."""
    return db.session.get(Recusal, (entry_id, judge_id)) is not None


def score_of(round_: Round, entry_id: int, judge_id: int) -> Score | None:
    """This judge's score of this entry in this round, if any."""
    return db.session.scalar(
        select(Score).where(
            Score.round_id == round_.id, Score.entry_id == entry_id, Score.judge_id == judge_id
        )
    )


def refuse_unless_scorable(round_: Round, entry: Entry, judge: User) -> None:
    """Raise ScoreRefused (409) if the round is closed or ranks rather than scores, or the
    judge recused from the entry."""
    if round_.status != "open":
        raise ScoreRefused(_("심사가 마감된 라운드에는 점수를 줄 수 없습니다."))
    if round_.method == "ranking":
        raise ScoreRefused(_("순위 심사에서는 점수 대신 작품의 순서를 정합니다."))
    if is_recused(entry.id, judge.id):
        raise ScoreRefused(_("회피 신청한 작품에는 점수를 줄 수 없습니다."))


def save_score(
    round_: Round, entry: Entry, judge: User, values: Mapping[str, int | bool], comment: str = ""
) -> Score:
    """Record or revise this judge's score of the entry; audited old → new (the caller commits).

    `values` and `comment` are already clean (the judge's form made them): criterion slug →
    whole number from SCORE_MIN to SCORE_MAX, or {"verdict": True or False}. A closed round or
    a recused judge is refused (ScoreRefused, 409). One row per judge, entry and round:
    posting again revises it. A first score outside the categories the judge is limited to is
    refused (403); a score given before the limit may still be revised.
    """
    refuse_unless_scorable(round_, entry, judge)
    clean = dict(values)
    _check_clean(round_, clean)
    total = total_of(round_, clean)
    score = score_of(round_, entry.id, judge.id)
    if score is None and not jury.in_scope(round_, judge.id, entry.id):
        raise ScoreRefused(_("이 부문은 심사 범위가 아닙니다. 운영진에게 문의해 주세요."), 403)
    new = {"values": clean, "total": total, "comment": comment}
    if score is None:
        score = Score(round_id=round_.id, entry_id=entry.id, judge_id=judge.id)
        db.session.add(score)
        old = None
        action = "score"
    else:
        old = {"values": score.values, "total": score.total, "comment": score.comment}
        action = "revise-score"
    score.values, score.total, score.comment = clean, total, comment
    score.updated_at = utcnow()
    db.session.flush()
    if old != new:
        audit(judge, action, f"score:{score.id}", old, new | {"entry_id": entry.id})
    return score


def _check_clean(round_: Round, values: dict) -> None:
    """Raise TypeError for values no form would give: a caller's mistake, never a judge's.

    Stored as given, "n" would count as a pass and 11 would inflate a total, so a caller that
    skipped the form fails loudly here rather than corrupting the scores.
    """
    if round_.method == "screening":
        clean = set(values) == {"verdict"} and isinstance(values["verdict"], bool)
    else:
        clean = set(values) == {c.slug for c in round_.criteria} and all(
            type(v) is int and SCORE_MIN <= v <= SCORE_MAX for v in values.values()
        )
    if not clean:
        raise TypeError(f"save_score needs clean values for round {round_.id}: {values!r}")


def recuse(entry: Entry, judge: User) -> Recusal:
    """Record a conflict of interest (idempotent; the caller commits).

    Any score the judge already gave is kept, for the record, but stops counting: queues and
    aggregates exclude a recused judge's scores of that entry.
    """
    recusal = db.session.get(Recusal, (entry.id, judge.id))
    if recusal is None:
        recusal = Recusal(entry_id=entry.id, judge_id=judge.id)
        db.session.add(recusal)
        db.session.flush()
        audit(judge, "recuse", f"entry:{entry.id}", None, {"recused": True})
    return recusal


def progress(round_: Round, judge_id: int) -> list[CategoryProgress]:
    """Per category, in the contest's order: the entries for this judge and how many they scored.

    A judge limited to some categories counts only the entries they are given (`jury.scope`).
    """
    # Two counts on the round's own query (no IN over all its ids) rather than one outer join:
    # the totals come from the entry index alone, the scored ones from this judge's scores.
    recused = select(Recusal.entry_id).where(Recusal.judge_id == judge_id)
    held = (
        entry_ids_in(round_)
        .with_only_columns(Entry.category_id, func.count())
        .where(Entry.id.not_in(recused))
        .group_by(Entry.category_id)
    )
    held = held.where(jury.scope(round_, judge_id))
    totals = dict(db.session.execute(held).all())
    scored = dict(
        db.session.execute(
            held.join(Score, Score.entry_id == Entry.id).where(
                Score.round_id == round_.id, Score.judge_id == judge_id
            )
        ).all()
    )
    counts = {cid: (total, scored.get(cid, 0)) for cid, total in totals.items()}
    categories = db.session.scalars(
        select(Category)
        .where(Category.contest_id == round_.contest_id)
        .order_by(Category.position, Category.id)
    )
    return [CategoryProgress(c.name, c.kind, *counts.get(c.id, (0, 0))) for c in categories]


def scored_sequence(round_: Round, judge_id: int) -> list[int]:
    """The entries this judge scored in the round, in the order of their first score.

    Entries since rejected, or recused, drop out: the judge no longer judges them.
    """
    recused = select(Recusal.entry_id).where(Recusal.judge_id == judge_id)
    return list(
        db.session.scalars(
            entry_ids_in(round_)  # joined, not an IN over all the round's ids
            .with_only_columns(Score.entry_id, maintain_column_froms=True)
            .join(Score, Score.entry_id == Entry.id)
            .where(
                Score.round_id == round_.id,
                Score.judge_id == judge_id,
                Score.entry_id.not_in(recused),
            )
            .order_by(Score.created_at, Score.id)
        )
    )


def scored_entries(
    round_: Round, judge_id: int, limit: int = 50, offset: int = 0
) -> list[tuple[Entry, Score]]:
    """A page of this judge's scored entries with their scores, latest first (the dashboard)."""
    recused = select(Recusal.entry_id).where(Recusal.judge_id == judge_id)
    return list(
        db.session.execute(
            # The round's own query, not an IN over all its ids: the judge's scores lead.
            entry_ids_in(round_)
            .with_only_columns(Entry, Score)
            .join(Score, Score.entry_id == Entry.id)
            .where(
                Score.round_id == round_.id,
                Score.judge_id == judge_id,
                Entry.id.not_in(recused),
            )
            .options(joinedload(Entry.category))
            .order_by(Score.created_at.desc(), Score.id.desc())
            .limit(limit)
            .offset(offset)
        ).tuples()
    )
