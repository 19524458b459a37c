"""Jury changes mid-round: a round's quorum (with the work a change adds), its deadline, the
judging pace, judges limited to some categories, and where a judge's reminders go.

Adding or disabling a judge is `accounts.set_account_active` (the staff page): the queue needs
nothing more, since it hands each judge whatever they have not scored. A disabled judge's scores
stay counted (they were given in good faith; recusal is how one score stops counting): no score
is ever lost by a change of jury.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, delete, func, or_, select

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import (
    CalibrationEntry,
    Category,
    Contest,
    Entry,
    JudgeCategory,
    Round,
    Score,
    User,
)
from contest.services import ranking
from contest.services.audit import audit
from contest.services.rounds import entry_ids_in

QUORUM_MAX = 50  # more judges per entry than any jury this platform serves
# A pace measured over less than this is noise (one score in a minute is not 60 an hour).
PACE_WINDOW_MIN = timedelta(minutes=15)


class JuryRefused(Refusal):
    """A jury change that cannot be made (a closed round, a category of another contest...)."""

    status = 400


def quorum_of(round_: Round | None) -> int:
    """How many counted scores each entry of the round needs: its own, else the QUORUM setting."""
    if round_ is not None and round_.quorum is not None:
        return round_.quorum
    return current_app.config["QUORUM"]


def results_quorum(contest: Contest) -> int:
    """The quorum of the round the contest's results come from (`ranking.results_round`)."""
    return quorum_of(ranking.results_round(contest))


@dataclass(frozen=True)
class QuorumEffect:
    """What a quorum would ask of the jury now, and how long that takes at the current pace."""

    quorum: int
    current: int  # the round's quorum in force
    needed: int  # scores still missing: Σ over the round's entries of max(0, quorum − counted)
    pace: float  # counted scores per hour over the pace window (see `pace`)

    @property
    def hours(self) -> float | None:
        """Hours the missing scores take at the pace (None: no pace to go by)."""
        if self.needed == 0:
            return 0.0
        return self.needed / self.pace if self.pace > 0 else None


def scores_needed(round_: Round, quorum: int) -> int:
    """Scores still missing before every entry of the round has `quorum` counted scores.

    Σ over the round's entries of max(0, quorum − the entry's counted scores), a recused
    judge's score not counting (`ranking.counted_scores`). Two queries: the entries, and the
    counted scores capped at the quorum per entry.
    """
    entries = db.session.scalar(select(func.count()).select_from(entry_ids_in(round_).subquery()))
    per_entry = (
        ranking.counted_scores(round_)
        .with_only_columns(Score.entry_id, func.count().label("n"))
        .group_by(Score.entry_id)
        .subquery()
    )
    capped = case((per_entry.c.n < quorum, per_entry.c.n), else_=quorum)
    # int(): PostgreSQL sums integers as numeric, which arrives as a Decimal.
    given = int(db.session.scalar(select(func.coalesce(func.sum(capped), 0))))
    return quorum * entries - given


def pace(round_: Round, now: datetime, judge_id: int | None = None) -> float:
    """Scores per hour: the round's scores first given within the pace window, per hour of it.

    The window is the last JURY_PACE_WINDOW seconds, starting no earlier than the round
    opened and lasting at least PACE_WINDOW_MIN; a revision is not a new score (its
    `created_at` stays). With `judge_id`, that judge's own pace.
    """
    start = _window_start(round_, now)
    query = select(func.count()).where(Score.round_id == round_.id, Score.created_at >= start)
    if judge_id is not None:
        query = query.where(Score.judge_id == judge_id)
    given = db.session.scalar(query)
    return given / ((now - start).total_seconds() / 3600)


def _window_start(round_: Round, now: datetime) -> datetime:
    """Where the pace window starts (see `pace`)."""
    start = now - timedelta(seconds=current_app.config["JURY_PACE_WINDOW"])
    if round_.opened_at is not None:
        start = max(start, round_.opened_at)
    return min(start, now - PACE_WINDOW_MIN)


def paces(round_: Round, now: datetime) -> dict[int, float]:
    """Every judge's own pace (see `pace`), in one grouped query: judge id → scores per hour."""
    start = _window_start(round_, now)
    hours = (now - start).total_seconds() / 3600
    rows = db.session.execute(
        select(Score.judge_id, func.count())
        .where(Score.round_id == round_.id, Score.created_at >= start)
        .group_by(Score.judge_id)
    ).all()
    return {judge_id: given / hours for judge_id, given in rows}


def quorum_effect(round_: Round, quorum: int, now: datetime) -> QuorumEffect:
    """The preview shown before a quorum change is confirmed."""
    return QuorumEffect(quorum, quorum_of(round_), scores_needed(round_, quorum), pace(round_, now))


def set_quorum(round_: Round, quorum: int, actor: User) -> None:
    """Give the round its own quorum (audited; the caller commits). A closed round's results
    are settled: its quorum stays."""
    if round_.status == "closed":
        raise JuryRefused(_l("마감된 라운드의 정족수는 바꿀 수 없습니다."), 409, "quorum")
    if not 1 <= quorum <= QUORUM_MAX:
        raise JuryRefused(
            _l("정족수는 1에서 %(max)s 사이여야 합니다.", max=QUORUM_MAX), field="quorum"
        )
    old = quorum_of(round_)
    round_.quorum = quorum
    db.session.flush()
    audit(actor, "set-quorum", f"round:{round_.id}", {"quorum": old}, {"quorum": quorum})


def set_deadline(round_: Round, deadline: datetime | None, actor: User) -> None:
    """When the round's judging should be done (aware; None: no deadline); audited."""
    old = round_.deadline.isoformat() if round_.deadline else None
    round_.deadline = deadline
    db.session.flush()
    new = deadline.isoformat() if deadline else None
    audit(actor, "set-deadline", f"round:{round_.id}", {"deadline": old}, {"deadline": new})


def judges() -> list[User]:
    """Every judge account, active first, by name."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == "judge")
            .order_by(User.active.desc(), User.display_name, User.username)
        )
    )


def categories_of(round_: Round, judge_id: int) -> list[int]:
    """The category ids a judge is limited to in the round (empty: every category)."""
    return list(
        db.session.scalars(
            select(JudgeCategory.category_id).where(
                JudgeCategory.round_id == round_.id, JudgeCategory.judge_id == judge_id
            )
        )
    )


def scope(round_: Round, judge_id: int) -> ColumnElement:
    """SQL on `Entry`: whether the judge is given the entry in the round (no query is run).

    A judge with no categories set gets every entry; a judge limited to some categories gets
    those categories' entries, and the round's calibration entries whatever their category
    (every judge scores those).
    """
    limited = select(JudgeCategory.category_id).where(
        JudgeCategory.round_id == round_.id, JudgeCategory.judge_id == judge_id
    )
    calibration = select(CalibrationEntry.entry_id).where(CalibrationEntry.round_id == round_.id)
    return or_(~limited.exists(), Entry.category_id.in_(limited), Entry.id.in_(calibration))


def in_scope(round_: Round, judge_id: int, entry_id: int) -> bool:
    """Whether the judge is given this entry in the round (see `scope`)."""
    found = select(Entry.id).where(Entry.id == entry_id, scope(round_, judge_id))
    return db.session.scalar(found) is not None


def set_categories(round_: Round, judge: User, category_ids: list[int], actor: User) -> None:
    """Limit a judge to these categories in the round (none: every category); audited.

    Scores the judge already gave in other categories stay counted; the queue simply stops
    handing them that work.
    """
    if judge.role != "judge":
        raise JuryRefused(_l("심사위원만 부문을 나눌 수 있습니다."), 400)
    wanted = sorted(set(category_ids))
    known = set(
        db.session.scalars(
            select(Category.id).where(
                Category.contest_id == round_.contest_id, Category.id.in_(wanted or [0])
            )
        )
    )
    if set(wanted) - known:
        raise JuryRefused(_l("이 공모전의 부문이 아닙니다."), 400, "categories")
    old = sorted(categories_of(round_, judge.id))
    db.session.execute(
        delete(JudgeCategory).where(
            JudgeCategory.round_id == round_.id, JudgeCategory.judge_id == judge.id
        )
    )
    db.session.add_all(
        JudgeCategory(round_id=round_.id, judge_id=judge.id, category_id=c) for c in wanted
    )
    db.session.flush()
    if old != wanted:
        audit(
            actor,
            "set-judge-categories",
            f"user:{judge.id}",
            {"round": round_.id, "categories": old},
            {"round": round_.id, "categories": wanted},
        )


def set_email(judge: User, email: str, actor: User) -> None:
    """Where a judge's reminders go ("" for none); audited."""
    email = email.strip()
    if email:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            raise JuryRefused(_l("올바른 이메일 주소가 아닙니다."), 400, "email") from None
    new = email or None
    if new != judge.email:
        audit(actor, "set-judge-email", f"user:{judge.id}", {"email": judge.email}, {"email": new})
        judge.email = new
        db.session.flush()


def hours_text(hours: float | None) -> str | None:
    """Hours rounded up to a tenth, for messages ("about 2.5 hours"); None stays None."""
    return None if hours is None else f"{math.ceil(hours * 10) / 10:g}"
