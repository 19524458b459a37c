"""Judging rounds: which round is open, which entries it holds, and the fair's first round."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from contest.core.extensions import db
from contest.core.i18n import translatable
from contest.core.refusal import Refusal
from contest.models import (
    Contest,
    Criterion,
    Entry,
    JudgeRanking,
    Round,
    RoundEntry,
    Score,
    User,
    utcnow,
)
from contest.services import ranking
from contest.services.audit import audit

# The fair's default criteria: relevance to Government 3.0 40%, creativity 30%, quality 30%.
# The names are stored in Korean; marked so the templates can show them translated.
DEFAULT_CRITERIA = (
    ("relevance", translatable("주제 적합성"), 40),
    ("creativity", translatable("창의성"), 30),
    ("quality", translatable("완성도"), 30),
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


def default_criteria() -> list[Criterion]:
    """New rows of the default criteria, for a round that scores and has none of its own."""
    return [
        Criterion(slug=slug, name=name, weight=weight, position=i)
        for i, (slug, name, weight) in enumerate(DEFAULT_CRITERIA)
    ]


def seed_first_round(contest: Contest) -> Round | None:
    """Give a contest without rounds its first, open, scoring round with the default criteria."""
    if db.session.scalar(select(Round.id).where(Round.contest_id == contest.id)) is not None:
        return None
    round_ = Round(
        contest=contest,
        number=1,
        name=translatable("1차 심사"),
        method="scoring",
        status="open",
        takes_all_entries=True,
        opened_at=utcnow(),
        criteria=default_criteria(),
    )
    db.session.add(round_)
    db.session.flush()
    return round_


# --- Managing rounds (admin): counts, criteria, reopening, switching the method. ---

METHODS = ("screening", "scoring", "ranking")
# A judge puts every finalist of a ranking round in order on one screen: beyond this many the
# screen (and the count, O(n³)) stops being something a person can do well.
RANKING_MAX_ENTRIES = 100
SLUG_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
SLUG_MAX = 30
WEIGHT_TOTAL = 100


class RoundError(Refusal):
    """A refused change to a round (409 unless the request itself was malformed)."""


def entry_count(round_: Round) -> int:
    """How many entries the round holds."""
    return db.session.scalar(select(func.count()).select_from(entry_ids_in(round_).subquery()))


def score_count(round_: Round) -> int:
    """How many scores judges have given in the round."""
    return db.session.scalar(select(func.count(Score.id)).where(Score.round_id == round_.id))


def has_scores(round_: Round) -> bool:
    """Whether any judge has scored (or, in a ranking round, ranked) anything in the round.

    Its rules are then fixed.
    """
    query = select(Score.id).where(Score.round_id == round_.id).limit(1)
    if db.session.scalar(query) is not None:
        return True
    ranked = select(JudgeRanking.id).where(JudgeRanking.round_id == round_.id).limit(1)
    return db.session.scalar(ranked) is not None


def criteria_problem(rows: list[tuple[str, str, int]]) -> str | None:
    """Why these (slug, name, weight) rows cannot be a round's criteria, or None if they can.

    Slugs become form field names on the judge's screen: lowercase ASCII, unique in the round.
    Weights are whole percents from 1 to 100 and sum to exactly 100.
    """
    if not rows:
        return _("기준이 하나 이상 있어야 합니다.")
    slugs = [slug for slug, _, _ in rows]
    for slug in slugs:
        if len(slug) > SLUG_MAX or not SLUG_PATTERN.fullmatch(slug):
            return _(
                "'%(slug)s': 영문 소문자로 시작하고 영문 소문자·숫자·밑줄(_)만 쓴"
                " %(max)s자 이하의 코드여야 합니다.",
                slug=slug,
                max=SLUG_MAX,
            )
    if len(set(slugs)) != len(slugs):
        return _("같은 코드를 두 기준에 쓸 수 없습니다.")
    if any(not name.strip() or len(name) > 100 for _, name, _ in rows):
        return _("기준 이름은 1자 이상 100자 이하여야 합니다.")
    if any(not 1 <= weight <= WEIGHT_TOTAL for _, _, weight in rows):
        return _("가중치는 1에서 100 사이여야 합니다.")
    total = sum(weight for _, _, weight in rows)
    if total != WEIGHT_TOTAL:
        return _("가중치의 합이 정확히 100이어야 합니다 (지금 %(total)s).", total=total)
    return None


def criteria_lock(round_: Round) -> str | None:
    """Why the round's criteria cannot be edited now, or None if they can."""
    if round_.method == "ranking":
        return _("순위를 매기는 심사에는 채점 기준이 없습니다.")
    if round_.method != "scoring":
        return _("예/아니오로 고르는 선별 심사에는 채점 기준이 없습니다.")
    if has_scores(round_):
        return _(
            "이 심사에는 이미 점수가 있어 기준을 바꿀 수 없습니다."
            " 기준을 바꾸면 이미 준 점수의 합계가 달라지기 때문입니다."
        )
    return None


def replace_criteria(round_: Round, rows: list[tuple[str, str, int]], actor: User) -> None:
    """Make `rows` (slug, name, weight, in order) the round's criteria; the caller commits.

    Allowed only in a scoring round without scores. Nothing changes when refused
    (RoundError). A criterion keeps its row when its slug stays; others are removed or added.
    """
    locked = criteria_lock(round_)
    if locked:
        raise RoundError(locked, 409)
    problem = criteria_problem(rows)
    if problem:
        raise RoundError(problem, 400)
    old = [_criterion_dict(c) for c in round_.criteria]
    by_slug = {c.slug: c for c in round_.criteria}
    wanted = {slug for slug, _, _ in rows}
    for criterion in list(round_.criteria):
        if criterion.slug not in wanted:
            round_.criteria.remove(criterion)
    db.session.flush()  # removals first, so a slug can move without tripping the unique key
    for position, (slug, name, weight) in enumerate(rows):
        criterion = by_slug.get(slug)
        if criterion is None:
            criterion = Criterion(slug=slug)
            round_.criteria.append(criterion)
        criterion.name, criterion.weight, criterion.position = name.strip(), weight, position
    db.session.flush()
    new = [_criterion_dict(c) for c in sorted(round_.criteria, key=lambda c: c.position)]
    if new != old:
        audit(actor, "set-criteria", f"round:{round_.id}", {"criteria": old}, {"criteria": new})


def reopen_round(round_: Round, actor: User) -> None:
    """Open a closed round again, if no other round of its contest is open; the caller commits."""
    if round_.status != "closed":
        raise RoundError(_("마감된 심사만 다시 열 수 있습니다."))
    other = active_round(round_.contest)
    if other is not None:
        raise RoundError(
            _(
                "'%(round)s' 심사가 열려 있어 다시 열 수 없습니다."
                " 한 번에 한 심사만 열 수 있으니 그 심사를 먼저 마감해 주세요.",
                round=_(other.name),  # a seeded name is a msgid; a typed one stays as is
            )
        )
    old = {"status": round_.status, "closed_at": _iso(round_.closed_at)}
    round_.status, round_.closed_at = "open", None
    db.session.flush()
    audit(actor, "reopen-round", f"round:{round_.id}", old, {"status": "open", "closed_at": None})


def set_method(round_: Round, method: str, actor: User, rank_top: int | None = None) -> None:
    """Switch a round without scores between screening, scoring and ranking; the caller commits.

    A round switched to scoring without criteria gets the default ones; criteria stay when
    switching away (unused there), so switching back restores them. A ranking round holds at
    most RANKING_MAX_ENTRIES entries; `rank_top` (ranking only) has judges order just their
    top N, the rest tying below them (None: they order every entry).
    """
    if method not in METHODS:
        raise RoundError(
            _("심사 방식은 선별(예/아니오), 점수, 순위 중 하나여야 합니다."), 400, "method"
        )
    if rank_top is not None and (method != "ranking" or not 1 <= rank_top <= RANKING_MAX_ENTRIES):
        raise RoundError(
            _(
                "상위 몇 개만 순위를 매길지는 순위 심사에서만, 1에서 %(max)s 사이로 정합니다.",
                max=RANKING_MAX_ENTRIES,
            ),
            400,
            "rank_top",
        )
    if has_scores(round_):
        raise RoundError(
            _(
                "이 심사에는 이미 점수가 있어 방식을 바꿀 수 없습니다."
                " 바꾸면 이미 준 점수를 해석할 수 없게 됩니다."
            )
        )
    if method == "ranking" and entry_count(round_) > RANKING_MAX_ENTRIES:
        raise RoundError(
            _(
                "순위 심사는 작품이 %(max)s점 이하인 라운드에서만 할 수 있습니다"
                " (이 라운드는 %(count)s점).",
                max=RANKING_MAX_ENTRIES,
                count=entry_count(round_),
            )
        )
    if method == round_.method and rank_top == round_.rank_top:
        return
    audit(
        actor,
        "set-round-method",
        f"round:{round_.id}",
        _method_dict(round_.method, round_.rank_top),
        _method_dict(method, rank_top),
    )
    round_.method, round_.rank_top = method, rank_top
    if method == "scoring" and not round_.criteria:
        round_.criteria = default_criteria()
    db.session.flush()


def _method_dict(method: str, rank_top: int | None) -> dict:
    """A round's method for the audit log; `rank_top` only where it means something."""
    return {"method": method, "rank_top": rank_top} if method == "ranking" else {"method": method}


def _criterion_dict(criterion: Criterion) -> dict:
    return {"slug": criterion.slug, "name": criterion.name, "weight": criterion.weight}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


NEXT_METHODS = ("scoring", "screening")


@dataclass(frozen=True)
class ClosePreview:
    """What closing a round would do: the one computation both the preview and the commit use.

    `advancing` is empty for a scoring or ranking round (the last round decides the
    winners); a ranking round's `standings` are its Schulze order.
    """

    round_id: int
    method: str
    threshold: float
    quorum: int
    standings: list[ranking.Standing]
    advancing: list[ranking.Standing]
    below_quorum: list[ranking.Standing]

    @property
    def digest(self) -> str:
        """A fingerprint of what closing decides: the commit refuses if it no longer matches.

        The advancing entries; for a ranking round, the whole order the admin confirmed.
        """
        if self.method == "ranking":
            ids = "order:" + ",".join(str(s.entry_id) for s in self.standings)
        else:
            ids = ",".join(
                str(s.entry_id) for s in sorted(self.advancing, key=lambda s: s.entry_id)
            )
        return hashlib.sha256(f"{self.round_id}|{self.threshold!r}|{ids}".encode()).hexdigest()


class RoundNotOpen(RoundError):
    """Only the open round can be closed."""


class PreviewOutdated(RoundError):
    """The scores changed between the preview and the commit: the admin must look again."""


def close_preview(round_: Round, quorum: int, threshold: float) -> ClosePreview:
    """What closing the round would do; `close_round` commits exactly this.

    In a screening round an entry advances when it has at least `quorum` counted votes and its
    share of yes is at least `threshold` (0–1). A scoring round advances nobody.
    """
    standings = ranking.leaderboard(round_, quorum)
    advancing = []
    if round_.method == "screening":
        advancing = [
            s for s in standings if not s.below_quorum and s.mean >= threshold - ranking.EPSILON
        ]
    return ClosePreview(
        round_id=round_.id,
        method=round_.method,
        threshold=threshold,
        quorum=quorum,
        standings=standings,
        advancing=advancing,
        below_quorum=[s for s in standings if s.below_quorum],
    )


def close_round(
    round_: Round,
    quorum: int,
    threshold: float,
    next_method: str,
    actor: User | None,
    expected_digest: str | None = None,
) -> Round | None:
    """Close the open round; after a screening round, open the next one with the advancing.

    The next round (number = the contest's highest + 1) takes exactly `close_preview`'s
    advancing entries; a scoring next round gets the default criteria. Raises RoundNotOpen, or
    PreviewOutdated when `expected_digest` (from the preview the admin saw) no longer matches.
    Returns the new round, or None after a scoring round. Flushes; the caller commits.
    """
    if round_.status != "open":
        raise RoundNotOpen(_("이 라운드는 이미 마감되었습니다."))
    if next_method not in NEXT_METHODS:
        raise ValueError(f"next_method must be one of {NEXT_METHODS}")
    preview = close_preview(round_, quorum, threshold)
    if expected_digest is not None and expected_digest != preview.digest:
        raise PreviewOutdated(_("미리 보기 이후 점수가 바뀌었습니다. 결과를 다시 확인해 주세요."))
    round_.status = "closed"
    round_.closed_at = utcnow()
    db.session.flush()  # the old round stops being the open one before the next one opens
    next_round = None
    if round_.method == "screening":
        number = db.session.scalar(
            select(func.max(Round.number)).where(Round.contest_id == round_.contest_id)
        )
        next_round = Round(
            contest_id=round_.contest_id,
            number=number + 1,
            name=f"{number + 1}차 심사",  # stored in Korean; see LATER_ROUND_NAMES
            method=next_method,
            status="open",
            takes_all_entries=False,
            opened_at=utcnow(),
            criteria=default_criteria() if next_method == "scoring" else [],
        )
        db.session.add(next_round)
        db.session.flush()
        db.session.add_all(
            RoundEntry(round_id=next_round.id, entry_id=s.entry_id) for s in preview.advancing
        )
    audit(
        actor,
        "close-round",
        f"round:{round_.id}",
        {"status": "open"},
        {
            "status": "closed",
            "quorum": quorum,
            "threshold": threshold if round_.method == "screening" else None,
            "advanced": len(preview.advancing),
            "below_quorum": len(preview.below_quorum),
            "next_round": next_round.id if next_round else None,
        },
    )
    db.session.flush()
    return next_round


# The names close_round gives the rounds after the first, stored in Korean like the first
# round's (rounds.seed_first_round). Listed only so that they are extracted and translated:
# the pages show round names through the `translate_name` filter.
LATER_ROUND_NAMES = (
    translatable("2차 심사"),
    translatable("3차 심사"),
    translatable("4차 심사"),
    translatable("5차 심사"),
)
