"""Awards: proposing them from the ranking, moving them by hand, publishing them.

The tiers (대상, 최우수상, ...) and how many of each a category gives are the category's own,
set on the contest settings page (`contest_settings`); a category that has none stored gives
those of the `AWARD_TIERS` setting. A proposal assigns them down each category's leaderboard,
so the one documented ranking (`ranking.leaderboard`) decides who wins; admins may then move
an award by hand, with a reason that goes to the audit log.

Rules:
- A proposal replaces every award of the contest, hand moves included: it is a fresh start
  from the leaderboard, and what it replaced is kept in the audit log (old → new).
- Once the results are published the awards are frozen; unpublish to change them, so the
  public page never changes silently under the announcement.

Every function here flushes; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select
from sqlalchemy.orm import contains_eager, joinedload

from contest.core.extensions import db
from contest.core.i18n import translatable, translate_name
from contest.core.refusal import Refusal
from contest.models import Award, Category, Contest, Entry, Flag, Round, User, utcnow
from contest.services import jury, ranking, votes
from contest.services.audit import audit
from contest.services.entries import find_by_receipt
from contest.services.moderation import open_flags_by_entry

# The default tier names of config.AWARD_TIERS, listed here so the catalogue has them: pages show
# a tier's name through `translate_name`. (Settings are plain data and import nothing.)
_TIER_NAMES = (
    translatable("대상"),
    translatable("최우수상"),
    translatable("우수상"),
    translatable("장려상"),
    translatable("인기상"),
)

# The people's choice (인기상): its own tier in every category, given from the visitors' vote
# counts (`votes.peoples_choice_ranking`), never from the jury's leaderboard, and listed after
# the jury's tiers. PEOPLES_CHOICE_AWARDS says how many each category gives.
PEOPLES_CHOICE = "peoples-choice"


class AwardError(Refusal):
    """A refused award change."""


@dataclass(frozen=True)
class Tier:
    """An award tier: its slug, its Korean name, how many a category gives, its order.

    The Korean name may be the msgid of its translation (the default tiers' are); `name_en`,
    when an admin typed one, wins on English pages (`localized`). The exports for the prize
    office keep the Korean.
    """

    slug: str
    name: str
    count: int
    order: int
    name_en: str = ""


@dataclass(frozen=True)
class AwardRow:
    """An award beside its entry's figures on the leaderboard (None when not in the round)."""

    award: Award
    tier: Tier
    standing: ranking.Standing | None


@dataclass(frozen=True)
class Candidate:
    """An entry an award may be moved to, picked from its category's leaderboard."""

    standing: ranking.Standing
    holds: str | None  # the slug of the award it already holds, if any (it cannot take another)


# How far down each category's leaderboard the awards page offers entries to pick from; one
# further down is given by typing its receipt code.
CANDIDATES_PER_CATEGORY = 50


@dataclass(frozen=True)
class PublicWinner:
    """What the public winners page may show of one award: nothing personal beyond consent."""

    tier: Tier
    public: bool  # the winner agreed to publication of their name and work
    name: str  # masked; "" when not public
    title: str  # "" when not public
    entry: Entry | None  # for its preview/poster/playback; None when not public


def default_tiers() -> list[Tier]:
    """The tiers of the AWARD_TIERS setting, first prize first: a new category's."""
    return [
        Tier(slug, name, count, order)
        for order, (slug, name, count) in enumerate(current_app.config["AWARD_TIERS"])
    ]


def tiers(category: Category | None = None) -> list[Tier]:
    """A category's tiers, first prize first: its stored ones, else the default ones."""
    if category is not None and category.award_tiers:
        return [
            Tier(t.slug, t.name, t.count, order, t.name_en)
            for order, t in enumerate(category.award_tiers)
        ]
    return default_tiers()


def tier_of(slug: str, category: Category | None = None) -> Tier | None:
    """The category's tier with this slug (a default tier without a category), or None.

    The people's choice is every category's tier too, after the jury's."""
    if slug == PEOPLES_CHOICE:
        return peoples_choice_tier(category)
    return next((t for t in tiers(category) if t.slug == slug), None)


def peoples_choice_tier(category: Category | None = None) -> Tier:
    """The people's-choice tier (인기상), ordered after the category's jury tiers."""
    count = current_app.config["PEOPLES_CHOICE_AWARDS"]
    return Tier(PEOPLES_CHOICE, "인기상", count, len(tiers(category)))


def tier_names(contest: Contest) -> dict[tuple[int, str], str]:
    """Each category's tier names by (category id, slug), in Korean, for the exports."""
    names = {(c.id, t.slug): t.name for c in contest.categories for t in tiers(c)}
    return names | {(c.id, PEOPLES_CHOICE): "인기상" for c in contest.categories}


def awards_of(contest: Contest) -> list[Award]:
    """The contest's awards in category order, then in order within each category."""
    return list(
        db.session.scalars(
            select(Award)
            .join(Category, Category.id == Award.category_id)
            .where(Award.contest_id == contest.id)
            .options(
                joinedload(Award.entry).selectinload(Entry.assets),
                contains_eager(Award.category),
            )
            .order_by(Category.position, Category.id, Award.position, Award.id)
        )
    )


def propose(contest: Contest, quorum: int, actor: User | None) -> list[Award]:
    """Replace the contest's awards by the tiers given down each category's leaderboard.

    The leaderboard of `ranking.deciding_round` (the latest closed ranking round, else the
    open round, else the latest) decides: its ranked entries take the tiers in order
    (대상 to rank 1, 최우수상 to rank 2, ...).
    Entries below the quorum have no rank and rejected entries are not in the round, so
    neither is ever proposed. A category with fewer ranked entries leaves the last tiers empty.
    Each award keeps the rank it was given for (`Award.rank`).

    People's-choice awards given before are given again from the vote (after the jury's, as
    `propose_peoples_choice` does), so a new jury proposal never silently drops them: an entry
    the jury now awards gives its people's choice to the next in the vote.
    """
    _check_unpublished(contest)
    round_, awards = _proposal(contest, quorum)
    existing = awards_of(contest)
    before = _snapshot(existing)
    had_peoples_choice = any(a.tier == PEOPLES_CHOICE for a in existing)
    db.session.execute(delete(Award).where(Award.contest_id == contest.id))
    for award in awards:
        award.assigned_by_id = actor.id if actor else None
    db.session.add_all(awards)
    db.session.flush()
    audit(
        actor,
        "propose-awards",
        f"contest:{contest.id}",
        {"awards": before},
        {"awards": _snapshot(awards), "round": round_.id, "quorum": quorum},
    )
    # Reopened voting has no result yet: the people's choice waits for its close then.
    if had_peoples_choice and utcnow() >= votes.voting_window(contest)[1]:
        awards = awards + propose_peoples_choice(contest, utcnow(), actor)
    return awards


def _proposal(contest: Contest, quorum: int) -> tuple[Round, list[Award]]:
    """The awards a proposal would give now, not added to the session (see `propose`)."""
    round_ = ranking.deciding_round(contest)
    if round_ is None:
        raise AwardError(_l("심사 라운드가 없어 수상작을 정할 수 없습니다."))
    slots = {
        c.id: [tier for tier in tiers(c) for _ in range(tier.count)] for c in contest.categories
    }
    most = max((len(s) for s in slots.values()), default=0)
    awards = []
    # The top of each category's leaderboard is enough: ranked entries come first there.
    for page in ranking.leaderboard_pages(round_, quorum, per_page=max(most, 1)):
        ranked = [s for s in page.standings if s.rank is not None]
        category_slots = slots.get(page.category_id, [])
        for position, (tier, standing) in enumerate(zip(category_slots, ranked, strict=False), 1):
            awards.append(
                Award(
                    contest_id=contest.id,
                    category_id=standing.category_id,
                    entry_id=standing.entry_id,
                    tier=tier.slug,
                    position=position,
                    rank=standing.rank,
                    # Stored, and shown as written: the record stays in Korean.
                    reason=f"{round_.name} 순위 {standing.rank}위",
                )
            )
    return round_, awards


def propose_peoples_choice(contest: Contest, now: datetime, actor: User | None) -> list[Award]:
    """Replace the people's-choice awards by the top of each category's vote counts.

    Only once voting has closed. The ranking is `votes.peoples_choice_ranking` (most counted
    votes; ties to the earlier last vote, then the lower entry id). Each category gives
    PEOPLES_CHOICE_AWARDS of them, to entries with at least one counted vote that are not
    rejected and hold no award of the jury's (one award per entry, as everywhere: the jury's
    stands, and the next in the vote takes the people's choice). The jury's awards are left
    as they are; a jury proposal made afterwards starts afresh and removes these too.
    """
    _check_unpublished(contest)
    _opens, closes = votes.voting_window(contest)
    if now < closes:
        raise AwardError(_l("인기상은 투표가 끝난 뒤에 정할 수 있습니다."))
    count = current_app.config["PEOPLES_CHOICE_AWARDS"]
    peoples = select(Award).where(Award.contest_id == contest.id, Award.tier == PEOPLES_CHOICE)
    before = _snapshot(list(db.session.scalars(peoples)))
    db.session.execute(
        delete(Award).where(Award.contest_id == contest.id, Award.tier == PEOPLES_CHOICE)
    )
    db.session.expire_all()  # the rows deleted above may sit in the session
    jury = dict(
        db.session.execute(
            select(Award.entry_id, Award.position).where(Award.contest_id == contest.id)
        ).all()
    )
    last_position = dict(
        db.session.execute(
            select(Award.category_id, func.max(Award.position))
            .where(Award.contest_id == contest.id)
            .group_by(Award.category_id)
        ).all()
    )
    given: list[Award] = []
    taken: dict[int, int] = {}
    for standing in votes.peoples_choice_ranking(contest):
        category_id = standing.category_id
        if standing.place is None or taken.get(category_id, 0) >= count:
            continue
        if standing.status != "submitted" or standing.entry_id in jury:
            continue
        taken[category_id] = taken.get(category_id, 0) + 1
        given.append(
            Award(
                contest_id=contest.id,
                category_id=category_id,
                entry_id=standing.entry_id,
                tier=PEOPLES_CHOICE,
                position=last_position.get(category_id, 0) + taken[category_id],
                rank=None,  # the jury's rank: the people's choice has none
                assigned_by_id=actor.id if actor else None,
                reason=f"인기투표 {standing.votes}표 ({standing.place}위)",
            )
        )
    db.session.add_all(given)
    db.session.flush()
    audit(
        actor,
        "propose-peoples-choice",
        f"contest:{contest.id}",
        {"awards": before},
        {"awards": [{"entry": a.entry_id, "category": a.category_id} for a in given]},
    )
    return given


@dataclass(frozen=True)
class Given:
    """One award as the confirmation page lists it."""

    tier: Tier
    entry: Entry


@dataclass(frozen=True)
class Summary:
    """What to look at before proposing or publishing the awards.

    `categories`: each category with the awards it gives; `double_winners`: groups of awarded
    entries sent by one entrant (same phone or e-mail); `below_quorum`: how many entries of the
    results round have too few scores to be ranked, and the first of them; `flagged`: awarded
    entries with flags no admin has dismissed, with those flags.
    """

    categories: list[tuple[Category, list[Given]]]
    double_winners: list[list[Entry]]
    below_quorum: int
    below_quorum_shown: list[ranking.Standing]
    flagged: list[tuple[Entry, list[Flag]]]


def proposal_summary(contest: Contest, quorum: int) -> Summary:
    """The summary of the awards a proposal would give now (nothing is written)."""
    _check_unpublished(contest)
    _round, awards = _proposal(contest, quorum)
    return _summary(contest, quorum, [(a.category_id, a.tier, a.entry_id) for a in awards])


def publication_summary(contest: Contest, quorum: int) -> Summary:
    """The summary of the awards as they stand, before publishing them."""
    given = awards_of(contest)
    return _summary(contest, quorum, [(a.category_id, a.tier, a.entry_id) for a in given])


def _summary(contest: Contest, quorum: int, given: list[tuple[int, str, int]]) -> Summary:
    ids = [entry_id for _c, _t, entry_id in given]
    found = {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(ids)))}
    unknown = Tier("?", "?", 0, len(tiers()))
    categories = {c.id: c for c in contest.categories}
    by_category: dict[int, list[Given]] = {c.id: [] for c in contest.categories}
    for category_id, slug, entry_id in given:
        row = Given(tier_of(slug, categories.get(category_id)) or unknown, found[entry_id])
        by_category.setdefault(category_id, []).append(row)
    winners = [found[i] for i in ids]
    round_ = ranking.deciding_round(contest)
    count, shown = ranking.below_quorum(round_, quorum) if round_ is not None else (0, [])
    flags = open_flags_by_entry(ids)
    return Summary(
        categories=[(c, by_category[c.id]) for c in contest.categories],
        double_winners=_same_entrant(winners),
        below_quorum=count,
        below_quorum_shown=shown,
        flagged=[(found[i], flags[i]) for i in ids if flags[i]],
    )


def _same_entrant(entries: list[Entry]) -> list[list[Entry]]:
    """Groups of two or more entries sent by one person: linked by phone or by e-mail."""
    groups: list[list[Entry]] = []
    for entry in entries:
        linked = [g for g in groups if any(_one_person(entry, other) for other in g)]
        merged = [e for g in linked for e in g] + [entry]
        groups = [g for g in groups if g not in linked] + [merged]
    return [g for g in groups if len(g) > 1]


def _one_person(a: Entry, b: Entry) -> bool:
    # Purged entries have no contact left to compare.
    if a.personal_data_purged_at or b.personal_data_purged_at:
        return False
    return a.phone == b.phone or a.email == b.email


def give(award: Award, typed_receipt: str, reason: str, actor: User | None) -> Award:
    """Give an award to another entry of its category (by receipt code), with a reason."""
    _check_unpublished(award.entry.contest)
    reason = _required(reason)
    entry = _eligible_entry(award.category, typed_receipt)
    if entry.id == award.entry_id:
        raise AwardError(_l("이미 이 작품에 주어진 상입니다."), 400)
    old = _describe(award)
    award.entry_id = entry.id
    award.entry = entry
    award.rank = _rank_now(entry)
    award.assigned_by_id = actor.id if actor else None
    award.reason = reason
    db.session.flush()
    audit(actor, "move-award", f"award:{award.id}", old, _describe(award) | {"reason": reason})
    return award


def remove(award: Award, reason: str, actor: User | None) -> None:
    """Take an award back, with a reason."""
    _check_unpublished(award.entry.contest)
    reason = _required(reason)
    old = _describe(award)
    category = award.category
    db.session.delete(award)
    db.session.flush()
    _renumber(category)
    audit(actor, "remove-award", f"award:{award.id}", old, {"reason": reason})


def add(
    category: Category, tier_slug: str, typed_receipt: str, reason: str, actor: User | None
) -> Award:
    """Give a tier to an entry by hand (e.g. after removing one), within the tier's count."""
    _check_unpublished(category.contest)
    reason = _required(reason)
    tier = tier_of(tier_slug, category)
    if tier is None:
        raise AwardError(_l("없는 상입니다."), 400)
    given = db.session.scalars(
        select(Award).where(Award.category_id == category.id, Award.tier == tier.slug)
    ).all()
    if len(given) >= tier.count:
        raise AwardError(
            _l(
                "%(category)s 부문의 %(tier)s은 이미 %(count)s점 모두 있습니다.",
                category=category.name,
                tier=_l(tier.name),
                count=tier.count,
            )
        )
    entry = _eligible_entry(category, typed_receipt)
    award = Award(
        contest_id=category.contest_id,
        category_id=category.id,
        entry_id=entry.id,
        tier=tier.slug,
        position=10**6,  # renumbered below
        rank=_rank_now(entry),
        assigned_by_id=actor.id if actor else None,
        reason=reason,
    )
    award.entry = entry
    db.session.add(award)
    db.session.flush()
    _renumber(category)
    audit(actor, "add-award", f"award:{award.id}", None, _describe(award) | {"reason": reason})
    return award


def publish(contest: Contest, actor: User | None) -> None:
    """Announce the awards: /winners shows them from now on."""
    if contest.results_published_at is not None:
        raise AwardError(_l("이미 발표했습니다."))
    if not awards_of(contest):
        raise AwardError(_l("수상작이 없어 발표할 수 없습니다."))
    contest.results_published_at = utcnow()
    db.session.flush()
    audit(
        actor,
        "publish-results",
        f"contest:{contest.id}",
        {"results_published_at": None},
        {"results_published_at": contest.results_published_at.isoformat()},
    )


def unpublish(contest: Contest, actor: User | None) -> None:
    """Withdraw the announcement: /winners says "not yet announced" again."""
    if contest.results_published_at is None:
        raise AwardError(_l("아직 발표하지 않았습니다."))
    old = contest.results_published_at.isoformat()
    contest.results_published_at = None
    db.session.flush()
    audit(
        actor,
        "unpublish-results",
        f"contest:{contest.id}",
        {"results_published_at": old},
        {"results_published_at": None},
    )


def claim_winner_mails(contest: Contest, now: datetime) -> list[int]:
    """Mark the published winners not yet told as told now, and return their entry ids.

    Claimed before sending, inside the caller's write transaction, so two jobs (a quick
    unpublish and publish again) never both send to one winner; a send that fails gives its
    claim back (`release_winner_mail`). Entries rejected or purged are not told.
    """
    if contest.results_published_at is None:
        return []
    entries = db.session.scalars(
        select(Entry)
        .join(Award, Award.entry_id == Entry.id)
        .where(
            Award.contest_id == contest.id,
            Entry.winner_mailed_at.is_(None),
            Entry.status == "submitted",
            Entry.personal_data_purged_at.is_(None),
        )
        .order_by(Award.category_id, Award.position, Award.id)
    ).all()
    for entry in entries:
        entry.winner_mailed_at = now
    db.session.flush()
    return [entry.id for entry in entries]


def release_winner_mail(entry_id: int) -> None:
    """Give back the claim of a winner's e-mail that could not be sent, so a retry sends it."""
    entry = db.session.get(Entry, entry_id)
    if entry is not None:
        entry.winner_mailed_at = None
        db.session.flush()


def award_of(entry: Entry) -> Award | None:
    """The award the entry holds (published or not), or None."""
    return db.session.scalar(select(Award).where(Award.entry_id == entry.id))


def published_tier_of(entry: Entry) -> Tier | None:
    """The tier the entry won, once the results are published; None before, or if none."""
    if entry.contest.results_published_at is None:
        return None
    award = db.session.scalar(select(Award).where(Award.entry_id == entry.id))
    return tier_of(award.tier, entry.category) if award is not None else None


def award_rows(contest: Contest, quorum: int) -> list[tuple[Category, list[AwardRow]]]:
    """Each category with its awards and the winners' figures on the results round."""
    round_ = ranking.deciding_round(contest)
    given = awards_of(contest)
    standings = {}
    if round_ is not None:
        standings = ranking.standings_of(round_, quorum, [a.entry_id for a in given])
    by_category: dict[int, list[AwardRow]] = {c.id: [] for c in contest.categories}
    for award in given:
        tier = tier_of(award.tier, award.category) or Tier("?", "?", 0, 10**6)
        row = AwardRow(award, tier, standings.get(award.entry_id))
        by_category.setdefault(award.category_id, []).append(row)
    return [(c, by_category[c.id]) for c in contest.categories]


def candidates(
    contest: Contest, quorum: int, limit: int = CANDIDATES_PER_CATEGORY
) -> dict[int, list[Candidate]]:
    """Per category id, the top of its leaderboard (results round) that has scores.

    Ranked entries come first in rank order, then those below the quorum; entries without a
    score are left out. Rejected entries are not in the round, so never offered.
    """
    round_ = ranking.deciding_round(contest)
    if round_ is None:
        return {}
    holds = dict(
        db.session.execute(
            select(Award.entry_id, Award.tier).where(Award.contest_id == contest.id)
        ).all()
    )
    return {
        page.category_id: [
            Candidate(s, holds.get(s.entry_id)) for s in page.standings if s.scores > 0
        ]
        for page in ranking.leaderboard_pages(round_, quorum, per_page=limit)
    }


def public_winners(contest: Contest) -> list[tuple[Category, list[PublicWinner]]]:
    """What /winners shows per category and tier: masked names, works only with consent.

    An entry rejected after it was awarded is left out until an admin moves its award.
    """
    by_category: dict[int, list[PublicWinner]] = {c.id: [] for c in contest.categories}
    for award in awards_of(contest):
        tier, entry = tier_of(award.tier, award.category), award.entry
        if tier is None or entry.status != "submitted":
            continue
        if entry.consent_publish:
            winner = PublicWinner(tier, True, mask_name(entry.entrant_name), entry.title, entry)
        else:
            winner = PublicWinner(tier, False, "", "", None)
        by_category.setdefault(award.category_id, []).append(winner)
    # A category switched off is left out unless it has winners (it may have been closed late).
    return [(c, by_category[c.id]) for c in contest.categories if c.enabled or by_category[c.id]]


def reveal_order(contest: Contest) -> list[tuple[Category, PublicWinner]]:
    """The award ceremony's slides: the published awards category by category, each from its
    lowest tier up to its first prize (대상), as /winners shows them (masked names, works only
    with consent). Within one tier the award placed lowest comes first, so each category builds
    up to its best. Empty until the results are published.
    """
    if contest.results_published_at is None:
        return []
    slides = []
    for category, winners in public_winners(contest):
        ordered = sorted(enumerate(winners), key=lambda pair: (-pair[1].tier.order, -pair[0]))
        slides.extend((category, winner) for _place, winner in ordered)
    return slides


def mask_name(name: str) -> str:
    """A name as the public page shows it, enough for the winner to recognise it.

    One word: the first and last characters stay, the rest become * (홍길동 → 홍*동,
    남궁민수 → 남**수, Madonna → M*****a); two characters keep only the first (김철 → 김*),
    one becomes *. Several words (a foreign name, or 홍 길동 typed with a space): each word
    keeps only its first letter (John Smith → J*** S****), since a last letter says much more
    of a short word.
    """
    words = name.split()
    if not words:
        return ""
    if len(words) > 1:
        return " ".join(w[0] + "*" * (len(w) - 1) for w in words)
    word = words[0]
    if len(word) == 1:
        return "*"
    if len(word) == 2:
        return word[0] + "*"
    return word[0] + "*" * (len(word) - 2) + word[-1]


def _check_unpublished(contest: Contest) -> None:
    if contest.results_published_at is not None:
        raise AwardError(_l("발표된 뒤에는 수상작을 바꿀 수 없습니다. 먼저 발표를 취소해 주세요."))


def _required(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise AwardError(_l("사유를 적어 주세요."), 400)
    return reason


def _eligible_entry(category: Category, typed_receipt: str) -> Entry:
    """The entry with this receipt code, if it may win in this category."""
    entry = find_by_receipt(typed_receipt)
    if entry is None or entry.contest_id != category.contest_id:
        raise AwardError(_l("그 접수번호의 응모작이 없습니다."), 400)
    if entry.category_id != category.id:
        name = translate_name(category.name)
        raise AwardError(_l("그 응모작은 %(category)s 부문이 아닙니다.", category=name), 400)
    if entry.status != "submitted":
        raise AwardError(_l("심사에서 제외된 응모작에는 상을 줄 수 없습니다."), 400)
    holder = db.session.scalar(select(Award).where(Award.entry_id == entry.id))
    if holder is not None:
        tier = tier_of(holder.tier, holder.category)
        raise AwardError(
            _l(
                "그 응모작은 이미 %(tier)s 수상작입니다. 먼저 그 상을 옮기거나 취소해 주세요.",
                tier=_l(tier.name) if tier else holder.tier,
            )
        )
    return entry


def _rank_now(entry: Entry) -> int | None:
    """The entry's rank on the results round's leaderboard, for an award moved by hand."""
    round_ = ranking.deciding_round(entry.contest)
    if round_ is None:
        return None
    quorum = jury.quorum_of(round_)
    standing = ranking.standings_of(round_, quorum, [entry.id]).get(entry.id)
    return standing.rank if standing else None


def _renumber(category: Category) -> None:
    """Positions 1, 2, ... in tier order (keeping the order within a tier)."""
    order = {t.slug: t.order for t in tiers(category)}
    awards = db.session.scalars(select(Award).where(Award.category_id == category.id)).all()
    awards = sorted(awards, key=lambda a: (order.get(a.tier, len(order)), a.position, a.id))
    for position, award in enumerate(awards, 1):
        award.position = position
    db.session.flush()


def _describe(award: Award) -> dict:
    return {"tier": award.tier, "entry": award.entry.receipt, "category": award.category_id}


def _snapshot(awards: list[Award]) -> list[dict]:
    return [_describe(a) for a in awards]
