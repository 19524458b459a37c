"""Results: per-entry aggregates, the ranking and judges' leniency (closing is in `rounds`).

A ranking round has no scores: its leaderboard is the Schulze order of the judges' rankings
(`schulze_counts`), with the same `Standing` rows, so every page, export and the awards
proposal read it through the same functions.

Every number here is computed over the round's *counted* scores: scores of entries the round
holds (`rounds.entry_ids_in`, so rejected entries never count) by judges not recused from that
entry. Aggregation happens in SQL (GROUP BY); Python only takes square roots and sorts, so the
cost is a fixed handful of queries whatever the number of entries.

Standard deviations are *population* deviations (divide by n): the judges who scored an entry
are the whole panel for that entry, not a sample of some larger panel, and a single score has a
deviation of 0 rather than none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import Select, and_, case, func, literal, null, select, true

from contest.core.extensions import db
from contest.models import (
    Category,
    Contest,
    Entry,
    Recusal,
    Round,
    Score,
    User,
)
from contest.services import ballots, receipts, rounds, schulze

# Two floats closer than this are equal: a mean of the same scores summed in another order
# differs in the last bits, and such a difference must not decide a rank.
EPSILON = 1e-9


@dataclass(frozen=True)
class Standing:
    """One entry's place in a round: its aggregates and its rank within its category."""

    entry_id: int
    category_id: int
    category: str
    title: str
    receipt: str
    scores: int  # counted scores (recused judges left out)
    mean: float | None  # mean of the totals (weighted, 1–10); share of yes when screening
    stdev: float | None  # population standard deviation of the totals
    spread: float | None  # highest total − lowest total
    normalised: float | None  # mean over its judges of each judge's z-score
    rank: int | None  # 1-based within the category; None when below quorum
    below_quorum: bool

    @property
    def receipt_display(self) -> str:
        """The receipt code in groups, as entrants see it: ABCD-EFGH-JKLMN."""
        return receipts.grouped(self.receipt)


@dataclass(frozen=True)
class JudgeStat:
    """A judge's work and leniency in a round, beside the whole panel's."""

    judge_id: int
    name: str
    active: bool
    scored: int
    recused: int
    todo: int  # entries in the round − scored − recused
    mean: float | None
    stdev: float | None
    panel_mean: float | None  # over every counted score in the round
    panel_stdev: float | None
    # (mean − panel mean) / panel stdev; "harsh" below −1, "lenient" above +1.
    deviation: float | None
    flag: str | None


@dataclass(frozen=True)
class RoundProgress:
    """How far the judging of a round has come."""

    round_id: int
    number: int
    name: str
    method: str
    status: str
    entries: int
    scores: int
    at_quorum: int  # entries with at least `quorum` counted scores
    below_quorum: int
    quorum: int

    @property
    def percent(self) -> int:
        """Share of entries that reached the quorum, in whole percent."""
        return math.floor(100 * self.at_quorum / self.entries) if self.entries else 100


def counted_scores(round_: Round) -> Select:
    """A select of (entry_id, judge_id, total) for every score that counts in a round.

    Rejected entries and entries not in the round are out (`entry_ids_in`); so is the score of
    a judge recused from that entry.
    """
    # Joins that probe each score's own entry and recusal, rather than an IN over every entry
    # of the round: the cost follows the scores, not the entries waiting for them.
    held = rounds.entry_ids_in(round_).subquery()
    return (
        select(Score.entry_id, Score.judge_id, Score.total)
        .join(held, held.c.id == Score.entry_id)
        .outerjoin(
            Recusal, and_(Recusal.entry_id == Score.entry_id, Recusal.judge_id == Score.judge_id)
        )
        .where(Score.round_id == round_.id, Recusal.entry_id.is_(None))
    )


@dataclass(frozen=True)
class JudgeScore:
    """One judge's score and comment on an entry in a round, as the admin's entry page lists it."""

    round_id: int
    round_number: int
    round_name: str
    method: str
    judge: str  # display name, else username
    total: float
    comment: str
    counted: bool  # False when the judge is recused from the entry: the score does not count


def scores_of_entry(entry_id: int) -> list[JudgeScore]:
    """Every judge's score and comment on an entry, round by round, then by judge name."""
    recused = select(Recusal.entry_id).where(
        Recusal.entry_id == Score.entry_id, Recusal.judge_id == Score.judge_id
    )
    rows = db.session.execute(
        select(
            Round.id,
            Round.number,
            Round.name,
            Round.method,
            User.display_name,
            User.username,
            Score.total,
            Score.comment,
            recused.exists().label("recused"),
        )
        .join(Round, Round.id == Score.round_id)
        .join(User, User.id == Score.judge_id)
        .where(Score.entry_id == entry_id)
        .order_by(Round.number, _judge_name(), User.username)
    )
    return [
        JudgeScore(
            round_id=row.id,
            round_number=row.number,
            round_name=row.name,
            method=row.method,
            judge=row.display_name or row.username,
            total=row.total,
            comment=row.comment or "",
            counted=not row.recused,
        )
        for row in rows
    ]


def judge_comments(round_: Round) -> dict[int, list[tuple[str, str]]]:
    """The comments of the round's counted scores, by entry id: [(judge name, comment)].

    Empty comments are left out; each entry's are in judge-name order.
    """
    query = (
        counted_scores(round_)
        .add_columns(User.display_name, User.username, Score.comment)
        .join(User, User.id == Score.judge_id)
        .where(Score.comment != "")
        .order_by(Score.entry_id, _judge_name(), User.username)
    )
    found: dict[int, list[tuple[str, str]]] = {}
    for row in db.session.execute(query):
        comment = row.comment.strip()
        if comment:
            found.setdefault(row.entry_id, []).append((row.display_name or row.username, comment))
    return found


def _judge_name():
    """A judge's name as pages show it, for ordering: the display name, else the username."""
    return func.coalesce(func.nullif(User.display_name, ""), User.username)


def leaderboard(round_: Round, quorum: int) -> list[Standing]:
    """The round's ranking, category by category (in the categories' order).

    Within a category, entries with at least `quorum` counted scores are ranked 1, 2, 3, …:

    1. by weighted mean, highest first (in a screening round: the share of yes);
    2. ties broken by normalised score, highest first (the entry whose judges rated it higher
       than they rate on average wins; this evens out a harsh or lenient judge);
    3. then by number of counted scores, more first;
    4. then by entry id, lowest first (the earlier submission), so every rank is distinct
       and the order is the same on every run.

    Means and normalised scores within 1e-9 of each other count as equal. Entries below the
    quorum (late judges) follow the ranked ones of their category in the same order, with
    `rank=None` and `below_quorum=True`; entries without any score come last.
    """
    ranking = _ranking(round_, quorum)
    unscored: dict[int, list] = {}
    for row in db.session.execute(_unscored_query(round_)):
        unscored.setdefault(row.category_id, []).append(row)
    standings: list[Standing] = []
    for category_id, _name in _categories(round_):
        ranked, below = ranking.get(category_id, ([], []))
        standings.extend(_standing(row, i, False) for i, row in enumerate(ranked, 1))
        standings.extend(_standing(row, None, True) for row in below)
        standings.extend(_standing(row, None, True) for row in unscored.get(category_id, []))
    return standings


@dataclass(frozen=True)
class LeaderboardPage:
    """A slice of one category's standings on `leaderboard`: rows `offset + 1` onwards."""

    category_id: int
    category: str
    standings: list[Standing]
    offset: int
    scored: int  # entries with at least one counted score, ranked or below the quorum
    unscored: int  # entries of the round without any: last on the leaderboard

    @property
    def total(self) -> int:
        """Every entry of the category in the round."""
        return self.scored + self.unscored

    @property
    def has_more(self) -> bool:
        """Whether rows follow this slice on the leaderboard."""
        return self.offset + len(self.standings) < self.total


def leaderboard_pages(
    round_: Round, quorum: int, per_page: int, page: int = 1, category_id: int | None = None
) -> list[LeaderboardPage]:
    """Page `page` (from 1) of each category's standings on `leaderboard` (or of one category).

    The same ranking and the same order, without building the standings of every entry: the
    aggregation reads every counted score of the round (its cost grows with the scores, not
    with the entries waiting for one), but only `per_page` rows per category become standings;
    the unscored entries that end the leaderboard are counted, and read only for a page that
    reaches them.
    """
    ranking = _ranking(round_, quorum)
    totals = dict(
        db.session.execute(
            rounds.entry_ids_in(round_)  # the round's own query, not an IN over all its ids
            .with_only_columns(Entry.category_id, func.count())
            .group_by(Entry.category_id)
        ).all()
    )
    offset = (max(page, 1) - 1) * per_page
    pages = []
    for cid, name in _categories(round_):
        if category_id is not None and cid != category_id:
            continue
        ranked, below = ranking.get(cid, ([], []))
        scored = len(ranked) + len(below)
        rows = [(row, i) for i, row in enumerate(ranked, 1)] + [(row, None) for row in below]
        shown = [_standing(row, rank, rank is None) for row, rank in rows[offset:][:per_page]]
        unscored = totals.get(cid, 0) - scored
        if len(shown) < per_page and offset + len(shown) < scored + unscored:
            tail = (
                _unscored_query(round_)
                .where(Entry.category_id == cid)
                .offset(max(0, offset - scored))
                .limit(per_page - len(shown))
            )
            shown += [_standing(row, None, True) for row in db.session.execute(tail)]
        pages.append(LeaderboardPage(cid, name, shown, offset, scored, unscored))
    return pages


def below_quorum(round_: Round, quorum: int, limit: int = 50) -> tuple[int, list[Standing]]:
    """The round's entries left unranked for want of scores: how many, and the first `limit`
    of them in the leaderboard's order (those with some scores first, then the unscored)."""
    ranking = _ranking(round_, quorum)
    held_ids = rounds.entry_ids_in(round_).subquery()
    held = db.session.scalar(select(func.count()).select_from(held_ids))
    count = held - sum(len(ranked) for ranked, _below in ranking.values())
    rows = [row for cid, _name in _categories(round_) for row in ranking.get(cid, ([], []))[1]]
    shown = [_standing(row, None, True) for row in rows[:limit]]
    if len(shown) < limit:
        tail = _unscored_query(round_).limit(limit - len(shown))
        shown += [_standing(row, None, True) for row in db.session.execute(tail)]
    return count, shown


def entry_figures(round_: Round, entry_ids: list[int]) -> dict[int, tuple[int, float]]:
    """Counted scores and weighted mean of a few entries in a round, by entry id.

    The same figures as their standings on `leaderboard` (scores, mean), aggregated over
    these entries' scores alone: for the winners' exports, which must not rank every entry.
    """
    if not entry_ids:
        return {}
    counted = counted_scores(round_).where(Score.entry_id.in_(entry_ids)).subquery()
    rows = db.session.execute(
        select(counted.c.entry_id, func.count(), func.avg(counted.c.total)).group_by(
            counted.c.entry_id
        )
    )
    return {entry_id: (n, mean) for entry_id, n, mean in rows}


def standings_of(round_: Round, quorum: int, entry_ids: list[int]) -> dict[int, Standing]:
    """These entries' standings on the round's leaderboard, by entry id (scored ones only).

    Ranks need the whole ranking, so this reads every counted score of the round; it builds
    standings for these entries alone.
    """
    wanted, found = set(entry_ids), {}
    for ranked, below in _ranking(round_, quorum).values():
        for rank, row in enumerate(ranked, 1):
            if row.id in wanted:
                found[row.id] = _standing(row, rank, False)
        for row in below:
            if row.id in wanted:
                found[row.id] = _standing(row, None, True)
    return found


def by_category(standings: list[Standing]) -> list[tuple[str, list[Standing]]]:
    """The standings split per category, keeping the leaderboard's order: [(name, rows)]."""
    return [
        (rows[0].category, rows)
        for rows in (list(g) for _, g in groupby(standings, key=lambda s: s.category_id))
    ]


def judge_stats(round_: Round) -> list[JudgeStat]:
    """Each judge's progress and leniency in a round, by name.

    Listed: every active judge, and any disabled judge whose scores still count. A judge is
    flagged "harsh" (or "lenient") when their mean total lies more than one panel standard
    deviation below (or above) the panel mean, the panel being every counted score of the round.
    """
    moments = _judge_moments(round_)
    in_round = rounds.entry_ids_in(round_)
    total_entries = db.session.scalar(select(func.count()).select_from(in_round.subquery()))
    recusals = dict(
        db.session.execute(
            select(Recusal.judge_id, func.count())
            .where(Recusal.entry_id.in_(in_round))
            .group_by(Recusal.judge_id)
        ).all()
    )
    panel_n = sum(n for n, _, _ in moments.values())
    panel_mean = panel_stdev = None
    if panel_n:
        panel_mean = sum(n * mean for n, mean, _ in moments.values()) / panel_n
        square = sum(n * sq for n, _, sq in moments.values()) / panel_n
        panel_stdev = _root(square - panel_mean**2)
    judges = db.session.scalars(
        select(User).where(User.role == "judge").order_by(User.display_name, User.username)
    )
    stats = []
    for judge in judges:
        if not judge.active and judge.id not in moments:
            continue
        n, mean, square = moments.get(judge.id, (0, None, None))
        recused = recusals.get(judge.id, 0)
        stdev = _root(square - mean**2) if n else None
        deviation = flag = None
        if n and panel_stdev:
            deviation = (mean - panel_mean) / panel_stdev
            if deviation < -1 - EPSILON:
                flag = "harsh"
            elif deviation > 1 + EPSILON:
                flag = "lenient"
        stats.append(
            JudgeStat(
                judge_id=judge.id,
                name=judge.display_name or judge.username,
                active=judge.active,
                scored=n,
                recused=recused,
                todo=max(0, total_entries - n - recused),
                mean=mean,
                stdev=stdev,
                panel_mean=panel_mean,
                panel_stdev=panel_stdev,
                deviation=deviation,
                flag=flag,
            )
        )
    return stats


def round_progress(round_: Round, quorum: int) -> RoundProgress:
    """Entries, counted scores and how many entries reached the quorum, in two queries."""
    per_entry = (
        counted_scores(round_)
        .with_only_columns(Score.entry_id, func.count().label("n"))
        .group_by(Score.entry_id)
        .subquery()
    )
    scores, at_quorum = db.session.execute(
        select(
            func.coalesce(func.sum(per_entry.c.n), 0),
            func.count().filter(per_entry.c.n >= quorum),
        )
    ).one()
    entries = db.session.scalar(
        select(func.count()).select_from(rounds.entry_ids_in(round_).subquery())
    )
    return RoundProgress(
        round_id=round_.id,
        number=round_.number,
        name=round_.name,
        method=round_.method,
        status=round_.status,
        entries=entries,
        scores=scores,
        at_quorum=at_quorum,
        below_quorum=entries - at_quorum,
        quorum=quorum,
    )


def deciding_round(contest: Contest) -> Round | None:
    """The round awards are proposed from: the latest closed ranking round, when there is one
    (the jury's final), else `results_round` (the open round, else the latest)."""
    final = db.session.scalar(
        select(Round)
        .where(Round.contest_id == contest.id, Round.method == "ranking", Round.status == "closed")
        .order_by(Round.number.desc())
        .limit(1)
    )
    return final or results_round(contest)


def results_round(contest: Contest, round_id: int | None = None) -> Round | None:
    """The round results are shown for: the one asked for, else the open one, else the latest.

    A round of another contest is never returned.
    """
    if round_id is not None:
        round_ = db.session.get(Round, round_id)
        return round_ if round_ is not None and round_.contest_id == contest.id else None
    return rounds.active_round(contest) or db.session.scalar(
        select(Round)
        .where(Round.contest_id == contest.id, Round.status != "draft")
        .order_by(Round.number.desc())
        .limit(1)
    )


def _judge_moments(round_: Round) -> dict[int, tuple[int, float, float]]:
    """Per judge: (count, mean, mean of squares) of their counted totals in the round."""
    counted = counted_scores(round_).subquery()
    rows = db.session.execute(
        select(
            counted.c.judge_id,
            func.count(),
            func.avg(counted.c.total),
            func.avg(counted.c.total * counted.c.total),
        ).group_by(counted.c.judge_id)
    )
    return {judge_id: (n, mean, square) for judge_id, n, mean, square in rows}


def _ranking(round_: Round, quorum: int) -> dict[int, tuple[list, list]]:
    """Per category id: its ranked rows in rank order, then its scored rows below the quorum.

    The rule of `leaderboard`, applied to the entries with counted scores only; in a ranking
    round, the Schulze order of `schulze_counts`: every entry, once any judge has ranked (a
    category no judge's ranking touched is then ordered by the tie-break alone); none before.
    """
    if round_.method == "ranking":
        if not ballots.any_ranking(round_):
            return {}
        return {c.category_id: (c.rows, []) for c in schulze_counts(round_)}
    ranking: dict[int, tuple[list, list]] = {}
    for row in db.session.execute(_scored_query(round_)):
        ranked, below = ranking.setdefault(row.category_id, ([], []))
        (ranked if row.n >= quorum else below).append(row)
    for ranked, below in ranking.values():
        ranked.sort(key=_order)
        below.sort(key=_order)
    return ranking


def _categories(round_: Round) -> list[tuple[int, str]]:
    """The contest's categories (id, name), in the leaderboard's order."""
    return list(
        db.session.execute(
            select(Category.id, Category.name)
            .where(Category.contest_id == round_.contest_id)
            .order_by(Category.position, Category.id)
        ).tuples()
    )


def _scored_query(round_: Round) -> Select:
    """Every entry with counted scores in the round, with its category and its aggregates.

    The judges' means and standard deviations come first (one small GROUP BY); they enter the
    per-entry GROUP BY as CASE constants, since SQLite has no square root. Entries without a
    counted score are not read at all (see `_unscored_query`).
    """
    mean_of, scale_of = {}, {}
    for judge_id, (n, mean, square) in _judge_moments(round_).items():
        stdev = _root(square - mean**2)
        mean_of[judge_id] = mean
        # A judge with one score, or who gave every entry the same total, has no scale:
        # their z-scores are 0, so they neither lift nor sink anyone.
        scale_of[judge_id] = 1 / stdev if n > 1 and stdev > 0 else 0.0
    counted = counted_scores(round_).subquery()
    total = counted.c.total
    if mean_of:
        z = (total - case(mean_of, value=counted.c.judge_id, else_=0.0)) * case(
            scale_of, value=counted.c.judge_id, else_=0.0
        )
    else:
        z = total * 0.0
    per_entry = (
        select(
            counted.c.entry_id,
            func.count().label("n"),
            func.avg(total).label("mean"),
            func.avg(total * total).label("square"),
            func.max(total).label("high"),
            func.min(total).label("low"),
            func.avg(z).label("normalised"),
        )
        .group_by(counted.c.entry_id)
        .subquery()
    )
    return select(
        Entry.id,
        Entry.category_id,
        Category.name.label("category"),
        Entry.title,
        Entry.receipt,
        per_entry.c.n,
        per_entry.c.mean,
        per_entry.c.square,
        per_entry.c.high,
        per_entry.c.low,
        per_entry.c.normalised,
    ).select_from(
        per_entry.join(Entry, Entry.id == per_entry.c.entry_id).join(
            Category, Category.id == Entry.category_id
        )
    )


def _unscored_query(round_: Round) -> Select:
    """The round's entries without a counted score, by category and id (the leaderboard's tail).

    In a ranking round, none once a judge has ranked: `_ranking` then orders every entry.
    """
    counted = counted_scores(round_).where(Score.entry_id == Entry.id).exists()
    if round_.method == "ranking" and ballots.any_ranking(round_):
        counted = true()
    return (
        select(
            Entry.id,
            Entry.category_id,
            Category.name.label("category"),
            Entry.title,
            Entry.receipt,
            literal(0).label("n"),
            null().label("mean"),
            null().label("square"),
            null().label("high"),
            null().label("low"),
            null().label("normalised"),
        )
        .join(Category, Category.id == Entry.category_id)
        .where(Entry.id.in_(rounds.entry_ids_in(round_)), ~counted)
        .order_by(Entry.id)
    )


@dataclass(frozen=True)
class CategoryCount:
    """The Schulze count of one category of a ranking round, for its leaderboard and its page.

    `rows` are the category's entries in `count.order`, shaped like `_scored_query`'s rows
    (`n`: the judges who placed the entry themselves rather than leaving it in the tie below;
    `mean`: its weighted mean in the previous round, the tie-break).
    """

    category_id: int
    category: str
    count: schulze.SchulzeCount
    rows: list
    previous_round: Round | None


@dataclass(frozen=True)
class _RankedRow:
    """A ranking round's entry as a leaderboard row (see `CategoryCount`)."""

    id: int
    category_id: int
    category: str
    title: str
    receipt: str
    n: int
    mean: float | None
    square: None = None
    high: None = None
    low: None = None
    normalised: None = None


def schulze_counts(round_: Round) -> list[CategoryCount]:
    """A ranking round's result per category (in the categories' order): the Schulze count.

    Each category is counted on its own, over the judges' rankings restricted to its entries
    (awards are given per category, and an entry of another category must not sway the
    order here). Entries Schulze ties are ordered by `schulze.schulze_order`'s rule: the
    previous round's weighted mean (`previous_mean_key`), then the entry id. A judge's
    ranking holds ids as saved: an entry rejected since is simply left out of the count.
    """
    entries = db.session.execute(
        rounds.entry_ids_in(round_)
        .with_only_columns(Entry.id, Entry.category_id, Entry.title, Entry.receipt)
        .order_by(Entry.id)
    ).all()
    orders = ballots.ballots_of(round_)
    previous = previous_round(round_)
    means = (
        {i: mean for i, (_n, mean) in entry_figures(previous, [e.id for e in entries]).items()}
        if previous is not None
        else {}
    )
    counts = []
    for category_id, name in _categories(round_):
        mine = [e for e in entries if e.category_id == category_id]
        if not mine:
            continue
        count = schulze.count([e.id for e in mine], orders, previous_mean_key(means))
        placed = {e.id: sum(e.id in order for order in orders) for e in mine}
        by_id = {e.id: e for e in mine}
        rows = [
            _RankedRow(
                id=i,
                category_id=category_id,
                category=name,
                title=by_id[i].title,
                receipt=by_id[i].receipt,
                n=placed[i],
                mean=means.get(i),
            )
            for i in count.order
        ]
        counts.append(CategoryCount(category_id, name, count, rows, previous))
    return counts


def previous_round(round_: Round) -> Round | None:
    """The round before this one in its contest (the highest number below its own), if any."""
    return db.session.scalar(
        select(Round)
        .where(Round.contest_id == round_.contest_id, Round.number < round_.number)
        .order_by(Round.number.desc())
        .limit(1)
    )


def previous_mean_key(means: dict[int, float | None]):
    """The tie-break key of a ranking round: the previous round's weighted mean, highest first.

    An entry without one (not scored there, or no previous round) comes after those with
    one. Means within EPSILON count as equal, as on every leaderboard.
    """

    def key(entry_id: int) -> tuple:
        mean = means.get(entry_id)
        return (1, 0.0) if mean is None else (0, -_tie(mean))

    return key


def _order(row) -> tuple:
    """The sort key of the tie-break rule (see `leaderboard`); unscored entries last."""
    if row.mean is None:
        return (1, 0.0, 0.0, 0, row.id)
    return (0, -_tie(row.mean), -_tie(row.normalised), -row.n, row.id)


def _tie(value: float) -> float:
    """The value rounded so that floats equal up to summation order compare equal."""
    return round(value / EPSILON) * EPSILON


def _standing(row, rank: int | None, below: bool) -> Standing:
    # A ranking round's rows carry a mean (the previous round's) but no spread of their own.
    scored = row.mean is not None and row.square is not None
    return Standing(
        entry_id=row.id,
        category_id=row.category_id,
        category=row.category,
        title=row.title,
        receipt=row.receipt,
        scores=row.n,
        mean=row.mean,
        stdev=_root(row.square - row.mean**2) if scored else None,
        spread=row.high - row.low if scored else None,
        normalised=row.normalised if scored else None,
        rank=rank,
        below_quorum=below,
    )


def _root(variance: float) -> float:
    """The square root of a variance computed as E[x²] − E[x]², which may round below zero."""
    return math.sqrt(variance) if variance > EPSILON else 0.0
