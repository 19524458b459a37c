"""Judging: which entry a judge sees next, saving and revising scores, recusal and progress."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import joinedload

from .accounts import audit
from .extensions import db
from .models import Category, Entry, Recusal, Round, Score, User, utcnow
from .rounds import SCORE_MAX, SCORE_MIN, entry_ids_in, total_of

COMMENT_MAX = 2000
VERDICTS = {"y": True, "n": False}
_WHOLE_NUMBER = re.compile(r"\s*\d{1,3}\s*")


class ScoreRefused(ValueError):
    """A score that cannot be saved: per-field messages for the judge, and an HTTP status."""

    def __init__(self, errors: dict[str, list[str]], status: int = 400) -> None:
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors
        self.status = status


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


def _counting_scores(round_: Round):
    """A correlated count of an entry's scores in the round, less those of recused judges.

    Written as all scores minus the recused ones, not as a NOT EXISTS per score: recusals are
    rare, so the subtraction costs one probe per entry instead of one per score.
    """
    scores = (
        select(func.count())
        .where(Score.round_id == round_.id, Score.entry_id == Entry.id)
        .scalar_subquery()
    )
    recused_scores = (
        select(func.count())
        .select_from(Recusal)
        .join(
            Score,
            and_(
                Score.round_id == round_.id,
                Score.entry_id == Recusal.entry_id,
                Score.judge_id == Recusal.judge_id,
            ),
        )
        .where(Recusal.entry_id == Entry.id)
        .scalar_subquery()
    )
    return scores - recused_scores


def next_entry_id(
    round_: Round, judge_id: int, exclude: int | None = None, prefer: int | None = None
) -> int | None:
    """The entry this judge should score next, or None when nothing is left for them.

    Among the round's entries this judge has neither scored nor recused, the one with the
    fewest counting scores so far (a recused judge's score does not count), so every entry
    reaches its quorum; ties are broken at random, so no order bias builds up, except that
    `prefer` (the entry whose preview the last page preloaded) wins a tie it is part of.
    One SQL query.
    """
    mine = select(Score.entry_id).where(Score.round_id == round_.id, Score.judge_id == judge_id)
    recused = select(Recusal.entry_id).where(Recusal.judge_id == judge_id)
    query = (
        entry_ids_in(round_)
        .where(Entry.id.not_in(mine), Entry.id.not_in(recused))
        .order_by(_counting_scores(round_))
        .limit(1)
    )
    if exclude is not None:
        query = query.where(Entry.id != exclude)
    if prefer is not None:
        query = query.order_by(case((Entry.id == prefer, 0), else_=1))
    return db.session.scalar(query.order_by(func.random()))


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


def validate(round_: Round, data: Mapping[str, object]) -> tuple[dict, str]:
    """The values and comment from a posted form or JSON body, or ScoreRefused (400)."""
    errors: dict[str, list[str]] = {}
    values: dict = {}
    if round_.method == "screening":
        verdict = str(data.get("verdict") or "").strip().lower()
        if verdict not in VERDICTS:
            errors["verdict"] = [_("통과(Y) 또는 탈락(N)을 선택해 주세요.")]
        else:
            values["verdict"] = VERDICTS[verdict]
    else:
        for criterion in round_.criteria:
            value = _whole_number(data.get(criterion.slug))
            if value is None:
                errors[criterion.slug] = [
                    _("%(criterion)s 점수를 선택해 주세요.", criterion=_(criterion.name))
                ]
            elif not SCORE_MIN <= value <= SCORE_MAX:
                errors[criterion.slug] = [
                    _(
                        "%(criterion)s 점수는 %(min)s부터 %(max)s까지의 정수여야 합니다.",
                        criterion=_(criterion.name),
                        min=SCORE_MIN,
                        max=SCORE_MAX,
                    )
                ]
            else:
                values[criterion.slug] = value
    comment = data.get("comment") or ""
    if not isinstance(comment, str):
        errors["comment"] = [_("심사평은 글로 입력해 주세요.")]
    elif len(comment.strip()) > COMMENT_MAX:
        errors["comment"] = [_("심사평은 %(max)s자 이하로 입력해 주세요.", max=COMMENT_MAX)]
    if errors:
        raise ScoreRefused(errors)
    return values, comment.strip()


def _whole_number(raw: object) -> int | None:
    """An integer from a form string or a JSON number; None if missing, -1 if not a whole number."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    # "7.5" and "abc" are refused, not rounded: an ambiguous score is asked for again.
    return int(raw) if isinstance(raw, str) and _WHOLE_NUMBER.fullmatch(raw) else -1


def save_score(
    round_: Round, entry: Entry, judge: User, values: Mapping[str, object], comment: str = ""
) -> Score:
    """Record or revise this judge's score of the entry; audited old → new (the caller commits).

    `values` is the raw input (criterion slugs, or `verdict`), validated here. One row per
    judge, entry and round: posting again revises it.
    """
    if round_.status != "open":
        raise ScoreRefused({"_form": [_("심사가 마감된 라운드에는 점수를 줄 수 없습니다.")]}, 409)
    if is_recused(entry.id, judge.id):
        raise ScoreRefused({"_form": [_("회피 신청한 작품에는 점수를 줄 수 없습니다.")]}, 409)
    clean, comment = validate(round_, {**values, "comment": comment})
    total = total_of(round_, clean)
    score = score_of(round_, entry.id, judge.id)
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
    """Per category, in the contest's order: the entries for this judge and how many they scored."""
    mine = and_(Score.entry_id == Entry.id, Score.round_id == round_.id, Score.judge_id == judge_id)
    recused = select(Recusal.entry_id).where(Recusal.judge_id == judge_id)
    rows = db.session.execute(
        select(Entry.category_id, func.count(Entry.id), func.count(Score.id))
        .outerjoin(Score, mine)
        .where(Entry.id.in_(entry_ids_in(round_)), Entry.id.not_in(recused))
        .group_by(Entry.category_id)
    ).all()
    counts = {category_id: (total, scored) for category_id, total, scored in rows}
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
            select(Score.entry_id)
            .where(
                Score.round_id == round_.id,
                Score.judge_id == judge_id,
                Score.entry_id.in_(entry_ids_in(round_)),
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
            select(Entry, Score)
            .join(Score, Score.entry_id == Entry.id)
            .where(
                Score.round_id == round_.id,
                Score.judge_id == judge_id,
                Entry.id.in_(entry_ids_in(round_)),
                Entry.id.not_in(recused),
            )
            .options(joinedload(Entry.category))
            .order_by(Score.created_at.desc(), Score.id.desc())
            .limit(limit)
            .offset(offset)
        ).tuples()
    )
