"""Calibration: 3 to 5 entries of a scoring round every judge scores first, so each judge's
scores can be read against the panel's on the same works (spread per entry, offset per judge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, select

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import CalibrationEntry, Entry, Recusal, Round, Score, User
from contest.services import ranking
from contest.services.audit import audit
from contest.services.rounds import entry_ids_in

CALIBRATION_MIN, CALIBRATION_MAX = 3, 5


class CalibrationRefused(Refusal):
    """A calibration set that cannot be used: wrong size, entries not in the round, no scores."""

    status = 400
    field = "entry_ids"


@dataclass(frozen=True)
class EntrySpread:
    """How far apart the judges' counted totals of one calibration entry lie."""

    entry_id: int
    title: str
    scores: int
    mean: float | None
    low: float | None
    high: float | None
    stdev: float | None  # population standard deviation of the totals

    @property
    def spread(self) -> float | None:
        """Highest total minus lowest."""
        return None if self.low is None else self.high - self.low


@dataclass(frozen=True)
class JudgeOffset:
    """A judge's mean offset from the rest of the panel on the calibration entries."""

    judge_id: int
    name: str
    offset: float | None  # None: no calibration entry scored by them and another judge
    entries: int  # calibration entries the offset is taken over


def entry_ids(round_: Round) -> list[int]:
    """The round's calibration entries, in the order the admin gave them."""
    return list(
        db.session.scalars(
            select(CalibrationEntry.entry_id)
            .where(CalibrationEntry.round_id == round_.id)
            .order_by(CalibrationEntry.position, CalibrationEntry.entry_id)
        )
    )


def set_entries(round_: Round, wanted: list[int], actor: User) -> None:
    """Make these entries the round's calibration set (none clears it); audited.

    A scoring round only (a yes/no round has no offsets to speak of), not closed; 3 to 5
    distinct entries the round holds. Scores already given on them stay as they are.
    """
    if round_.method != "scoring":
        raise CalibrationRefused(_l("보정 작품은 점수 심사 라운드에만 정할 수 있습니다."), 409)
    if round_.status == "closed":
        raise CalibrationRefused(_l("마감된 라운드의 보정 작품은 바꿀 수 없습니다."), 409)
    if len(set(wanted)) != len(wanted):
        raise CalibrationRefused(_l("같은 작품을 두 번 골랐습니다."))
    if wanted and not CALIBRATION_MIN <= len(wanted) <= CALIBRATION_MAX:
        raise CalibrationRefused(
            _l(
                "보정 작품은 %(low)s–%(high)s개를 고르세요.",
                low=CALIBRATION_MIN,
                high=CALIBRATION_MAX,
            )
        )
    held = set(db.session.scalars(entry_ids_in(round_).where(Entry.id.in_(wanted or [0]))))
    missing = [i for i in wanted if i not in held]
    if missing:
        raise CalibrationRefused(
            _l(
                "이 라운드에 없는 작품입니다: %(ids)s",
                ids=", ".join(f"#{i}" for i in missing),
            )
        )
    old = entry_ids(round_)
    db.session.execute(delete(CalibrationEntry).where(CalibrationEntry.round_id == round_.id))
    db.session.add_all(
        CalibrationEntry(round_id=round_.id, entry_id=entry_id, position=i)
        for i, entry_id in enumerate(wanted)
    )
    db.session.flush()
    if old != wanted:
        audit(actor, "set-calibration", f"round:{round_.id}", {"entries": old}, {"entries": wanted})


def waiting_for(round_: Round, judge_id: int) -> list[int]:
    """The calibration entries this judge has still to score (not recused), in order.

    The queue serves these before anything else (`judging.next_entry_id`).
    """
    mine = exists().where(
        Score.round_id == round_.id,
        Score.judge_id == judge_id,
        Score.entry_id == CalibrationEntry.entry_id,
    )
    recused = exists().where(
        Recusal.judge_id == judge_id, Recusal.entry_id == CalibrationEntry.entry_id
    )
    return list(
        db.session.scalars(
            select(CalibrationEntry.entry_id)
            .where(
                CalibrationEntry.round_id == round_.id,
                CalibrationEntry.entry_id.in_(entry_ids_in(round_)),
                ~mine,
                ~recused,
            )
            .order_by(CalibrationEntry.position, CalibrationEntry.entry_id)
        )
    )


def _totals(round_: Round) -> dict[int, dict[int, float]]:
    """Per calibration entry: judge id → counted total (a recused judge's score is out)."""
    counted = ranking.counted_scores(round_).where(
        Score.entry_id.in_(
            select(CalibrationEntry.entry_id).where(CalibrationEntry.round_id == round_.id)
        )
    )
    totals: dict[int, dict[int, float]] = {}
    for entry_id, judge_id, total in db.session.execute(counted):
        totals.setdefault(entry_id, {})[judge_id] = total
    return totals


def spreads(round_: Round) -> list[EntrySpread]:
    """Each calibration entry's counted totals: how many, their mean, lowest, highest, stdev."""
    totals = _totals(round_)
    titles = dict(
        db.session.execute(
            select(Entry.id, Entry.title).where(Entry.id.in_(entry_ids(round_)))
        ).all()
    )
    found = []
    for entry_id in entry_ids(round_):
        values = list(totals.get(entry_id, {}).values())
        if not values:
            found.append(EntrySpread(entry_id, titles.get(entry_id, ""), 0, None, None, None, None))
            continue
        mean = sum(values) / len(values)
        stdev = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        found.append(
            EntrySpread(
                entry_id,
                titles.get(entry_id, ""),
                len(values),
                mean,
                min(values),
                max(values),
                stdev,
            )
        )
    return found


def offsets(round_: Round) -> dict[int, tuple[float | None, int]]:
    """Per judge who scored a calibration entry: (offset, entries it is taken over).

    A judge's offset is the mean, over the calibration entries they scored that at least one
    other judge scored too, of (their total − the mean of the other judges' totals of that
    entry). Positive: they score higher than the rest of the panel; +1.2 reads "1.2 points
    above the panel on average". Counted scores only (a recused judge's are out); None when no
    calibration entry has another judge's score beside theirs.
    """
    gaps: dict[int, list[float]] = {}
    for by_judge in _totals(round_).values():
        for judge_id, total in by_judge.items():
            others = [t for j, t in by_judge.items() if j != judge_id]
            if others:
                gaps.setdefault(judge_id, []).append(total - sum(others) / len(others))
            else:
                gaps.setdefault(judge_id, [])
    return {j: ((sum(g) / len(g)) if g else None, len(g)) for j, g in gaps.items()}


def judge_offsets(round_: Round) -> list[JudgeOffset]:
    """Every judge with a calibration score, by name, with their offset (see `offsets`)."""
    found = offsets(round_)
    if not found:
        return []
    judges = db.session.scalars(
        select(User).where(User.id.in_(found)).order_by(User.display_name, User.username)
    )
    return [JudgeOffset(j.id, j.display_name or j.username, *found[j.id]) for j in judges]


def offset_of(round_: Round, judge_id: int) -> tuple[float | None, int]:
    """One judge's (offset, entries) on the round's calibration entries (see `offsets`)."""
    return offsets(round_).get(judge_id, (None, 0))
