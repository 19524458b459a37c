"""Judging: which entry a judge sees next, saving and revising scores, recusal and progress."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    event,
    exists,
    func,
    inspect,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import joinedload

from contest.core.extensions import db
from contest.models import Category, Entry, Recusal, Round, RoundEntry, Score, User, utcnow
from contest.services.audit import audit
from contest.services.rounds import OUT_OF_JUDGING, SCORE_MAX, SCORE_MIN, entry_ids_in, total_of

COMMENT_MAX = 2000
# /judge/next picks at random among this many of the least-scored entries, taken from a random
# point of their ids: exactly uniform when as few tie, and the cost never grows with the round.
QUEUE_WINDOW = 32
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


def next_entry_id(
    round_: Round, judge_id: int, exclude: int | None = None, prefer: int | None = None
) -> int | None:
    """The entry this judge should score next in the open round, or None when nothing is left.

    Among the round's entries this judge has neither scored nor recused, the one with the
    fewest counting scores so far (a recused judge's score does not count), so every entry
    reaches its quorum; ties are broken at random, so no order bias builds up, except that
    `prefer` (the entry whose preview the last page preloaded) wins a tie it is part of.

    The counts are the stored `Entry.queue_scores` (see `recount_queue`), walked in index
    order: the fewest is the first row this judge may take. The random choice is among up to
    `QUEUE_WINDOW` of the tied entries, the first ones from a random id between the tie's lowest
    and highest, wrapping round: uniform when no more than that tie, and with no preference
    for early or late entries when more do. One SQL query, whatever the size of the round.
    """
    mine = exists().where(
        Score.round_id == round_.id, Score.judge_id == judge_id, Score.entry_id == Entry.id
    )
    recused = exists().where(Recusal.judge_id == judge_id, Recusal.entry_id == Entry.id)
    takeable = entry_ids_in(round_).where(Entry.queue_scores >= 0, ~mine, ~recused)
    if exclude is not None:
        takeable = takeable.where(Entry.id != exclude)
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
    around = union_all(*laps).subquery()
    window = select(around.c.id).order_by(around.c.lap, around.c.id).limit(QUEUE_WINDOW).subquery()
    query = select(window.c.id)
    if prefer is not None:
        query = query.order_by(case((window.c.id == prefer, 0), else_=1))
    return db.session.scalar(query.order_by(func.random()).limit(1))


# --- The stored queue counts ------------------------------------------------------------------
#
# `Entry.queue_scores` is what `next_entry_id` walks. It is recomputed, inside the transaction
# that changes it, for the entries each change can move: a score given or removed, a recusal
# declared or withdrawn, an entry added, rejected or restored, an entry advancing into a round,
# a round opened, closed, reopened or removed. ORM flush events do it, so no service (or test
# inserting a row) can forget; bulk INSERTs bypass them and must call `recount_queue` after.


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


@event.listens_for(Score, "after_insert")
@event.listens_for(Score, "after_delete")
@event.listens_for(Recusal, "after_insert")
@event.listens_for(Recusal, "after_delete")
@event.listens_for(RoundEntry, "after_insert")
@event.listens_for(RoundEntry, "after_delete")
def _row_came_or_went(mapper, connection, target) -> None:
    _recount_entries(connection, {target.entry_id})


@event.listens_for(Score, "after_update")
def _score_moved(mapper, connection, score: Score) -> None:
    # A revision changes values and totals only; a score moved to another entry, round or
    # judge (no page does that) moves both entries' counts.
    changed, entry_ids = _old_and_new(score, "entry_id")
    if changed or _old_and_new(score, "round_id", "judge_id")[0]:
        _recount_entries(connection, entry_ids)


@event.listens_for(Entry, "after_insert")
def _entry_added(mapper, connection, entry: Entry) -> None:
    _recount_entries(connection, {entry.id})


@event.listens_for(Entry, "after_update")
def _entry_changed(mapper, connection, entry: Entry) -> None:
    if _old_and_new(entry, "status", "contest_id")[0]:
        _recount_entries(connection, {entry.id})


@event.listens_for(Round, "after_insert")
@event.listens_for(Round, "after_delete")
def _round_came_or_went(mapper, connection, round_: Round) -> None:
    recount_queue(round_.contest_id, connection)


@event.listens_for(Round, "after_update")
def _round_changed(mapper, connection, round_: Round) -> None:
    # Only the contest ids are recounted: the other attributes' values are strings and flags.
    changed = _old_and_new(round_, "status", "takes_all_entries")[0]
    moved, contest_ids = _old_and_new(round_, "contest_id")
    for contest_id in contest_ids if changed or moved else ():
        recount_queue(contest_id, connection)


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
    # Two counts on the round's own query (no IN over all its ids) rather than one outer join:
    # the totals come from the entry index alone, the scored ones from this judge's scores.
    recused = select(Recusal.entry_id).where(Recusal.judge_id == judge_id)
    held = (
        entry_ids_in(round_)
        .with_only_columns(Entry.category_id, func.count())
        .where(Entry.id.not_in(recused))
        .group_by(Entry.category_id)
    )
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
