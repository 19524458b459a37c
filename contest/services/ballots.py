"""Judges' rankings in a ranking round: saving each judge's latest order, reading them back.

A judge's order is a list of the round's entry ids, best first (`JudgeRanking`, one row per
judge and round: the latest replaces the one before, until the round closes). With
`Round.rank_top` set, only the first N count: the rest of the round ties below them. The
counting is `ranking.schulze_counts`; the Schulze method itself is `schulze`.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Entry, JudgeRanking, Round, User, utcnow
from contest.services import rounds
from contest.services.audit import audit


class RankingRefused(Refusal):
    """An order that cannot be saved: not a ranking round, closed, or ids outside the round."""


def ranking_of(round_: Round, judge_id: int) -> JudgeRanking | None:
    """This judge's latest order in the round, if they saved one."""
    return db.session.scalar(
        select(JudgeRanking).where(
            JudgeRanking.round_id == round_.id, JudgeRanking.judge_id == judge_id
        )
    )


def ballots_of(round_: Round) -> list[list[int]]:
    """Every judge's latest order in the round (ids as saved; the count drops unknown ones)."""
    rows = db.session.scalars(
        select(JudgeRanking.entry_ids)
        .where(JudgeRanking.round_id == round_.id)
        .order_by(JudgeRanking.judge_id)
    )
    return [list(ids) for ids in rows]


def finalists(round_: Round) -> list[Entry]:
    """The entries a judge orders in the round, by id (the screen shows them in their order)."""
    held = rounds.entry_ids_in(round_).subquery()
    return list(
        db.session.scalars(select(Entry).join(held, held.c.id == Entry.id).order_by(Entry.id))
    )


def screen_order(round_: Round, judge_id: int) -> list[Entry]:
    """The finalists as this judge last left them: their saved order, then the rest by id."""
    entries = finalists(round_)
    saved = ranking_of(round_, judge_id)
    place = {entry_id: i for i, entry_id in enumerate(saved.entry_ids if saved else [])}
    return sorted(entries, key=lambda e: (place.get(e.id, len(place)), e.id))


def save_ranking(round_: Round, judge: User, order: Sequence[int]) -> JudgeRanking:
    """Record this judge's order, best first, replacing their earlier one; the caller commits.

    Refused (RankingRefused, nothing written): a round that is not an open ranking round
    (409); an empty order, an id twice, or an id the round does not hold (400). With
    `rank_top` set only the first N are kept: the rest tie below them. Audited old → new.
    """
    if round_.method != "ranking":
        raise RankingRefused(_("이 라운드는 순위를 매기는 라운드가 아닙니다."), 409)
    if round_.status != "open":
        raise RankingRefused(_("심사가 마감된 라운드에는 순위를 저장할 수 없습니다."), 409)
    order = list(order)
    if not order:
        raise RankingRefused(_("순위를 매길 작품을 하나 이상 보내 주세요."), 400, "order")
    if len(set(order)) != len(order):
        raise RankingRefused(_("같은 작품을 두 번 넣을 수 없습니다."), 400, "order")
    held = set(db.session.scalars(rounds.entry_ids_in(round_).where(Entry.id.in_(order))))
    outside = [entry_id for entry_id in order if entry_id not in held]
    if outside:
        raise RankingRefused(
            _(
                "이 라운드에 없는 작품 번호입니다: %(ids)s",
                ids=", ".join(str(i) for i in outside[:10]),
            ),
            400,
            "order",
        )
    if round_.rank_top:
        order = order[: round_.rank_top]
    ranking = ranking_of(round_, judge.id)
    old = list(ranking.entry_ids) if ranking else None
    if ranking is None:
        ranking = JudgeRanking(round_id=round_.id, judge_id=judge.id)
        db.session.add(ranking)
    ranking.entry_ids = order
    ranking.updated_at = utcnow()
    db.session.flush()
    if old != order:
        audit(
            judge,
            "rank-entries" if old is None else "revise-ranking",
            f"round:{round_.id}",
            None if old is None else {"order": old},
            {"order": order},
        )
    return ranking


def any_ranking(round_: Round) -> bool:
    """Whether any judge has saved an order in the round (its leaderboard then ranks)."""
    query = select(JudgeRanking.id).where(JudgeRanking.round_id == round_.id).limit(1)
    return db.session.scalar(query) is not None


def judges_progress(round_: Round) -> list[tuple[str, JudgeRanking | None]]:
    """Every active judge (and any disabled one whose ranking counts) with their latest order
    in the round, or None while they have saved none: who the final still waits for."""
    saved = {
        r.judge_id: r
        for r in db.session.scalars(select(JudgeRanking).where(JudgeRanking.round_id == round_.id))
    }
    judges = db.session.scalars(
        select(User).where(User.role == "judge").order_by(User.display_name, User.username)
    )
    return [
        (judge.display_name or judge.username, saved.get(judge.id))
        for judge in judges
        if judge.active or judge.id in saved
    ]
