"""The people's-choice vote (인기상): vote cards, casting votes, counting them, voiding cards.

Visitors vote with a card handed out at the booth: its QR code holds a random token (a
`VoteToken`), which the visitor's browser session keeps. A card casts at most VOTES_PER_TOKEN
votes, at most one per entry, only on entries the public may see (`display.on_display`) and
only within the contest's voting window (by default the submission window). The schema holds
the card's rules under races too (see `Vote`).

Counted votes are the votes of cards not voided: voiding a card takes its votes out of every
count (the admin page, votes.csv and the people's-choice ranking all read `counted_votes`).
Counts never reach the public while voting is open.

Every function here flushes; the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Category, Contest, Entry, User, Vote, VoteToken
from contest.services import receipts
from contest.services.audit import audit
from contest.services.display import on_display

# The receipt codes' alphabet (no 0/O, 1/I/L): a card's code may be typed from the card too.
TOKEN_ALPHABET = receipts.ALPHABET
TOKEN_LENGTH = 16  # 31 ** 16 ≈ 2 ** 79: nobody makes up a card that works


class VoteRefused(Refusal):
    """A vote or a card change that is refused; votes answer 403 unless said otherwise."""

    status = 403


# Cards ------------------------------------------------------------------------------------------
def new_token() -> str:
    """A fresh random card code."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def clean_token(typed: str) -> str:
    """A code as typed or scanned ("abcd-efgh ...") in its stored form."""
    return receipts.clean(typed)


def grouped_token(token: str) -> str:
    """A card's code in groups of four, as printed on the card: ABCD-EFGH-JKLM-NPQR."""
    return "-".join(token[i : i + 4] for i in range(0, len(token), 4))


def make_tokens(
    contest: Contest, count: int, most: int, actor: User | None, via: str | None = None
) -> list[VoteToken]:
    """Make `count` new cards (1 to `most`) as one batch, to print together."""
    if count is None or not 1 <= count <= most:
        raise VoteRefused(
            _l("한 번에 1장부터 %(most)s장까지 만들 수 있습니다.", most=most), 400, "count"
        )
    batch = secrets.token_urlsafe(12)
    tokens = [
        VoteToken(contest_id=contest.id, token=new_token(), batch=batch) for _ in range(count)
    ]
    db.session.add_all(tokens)
    db.session.flush()
    extra = {"via": via} if via else {}
    audit(
        actor,
        "make-vote-tokens",
        f"contest:{contest.id}",
        None,
        {"count": count, "batch": batch} | extra,
    )
    return tokens


def find_token(contest: Contest, typed: str | None) -> VoteToken | None:
    """The contest's card with this code, or None (junk never reaches the database)."""
    code = clean_token(typed or "")
    if len(code) != TOKEN_LENGTH or any(ch not in TOKEN_ALPHABET for ch in code):
        return None
    return db.session.scalar(
        select(VoteToken).where(VoteToken.contest_id == contest.id, VoteToken.token == code)
    )


def batch_of(contest: Contest, batch: str) -> list[VoteToken]:
    """The cards made together in one batch, in the order they were made."""
    return list(
        db.session.scalars(
            select(VoteToken)
            .where(VoteToken.contest_id == contest.id, VoteToken.batch == batch)
            .order_by(VoteToken.id)
        )
    )


def void(token: VoteToken, now: datetime, actor: User | None) -> None:
    """Stop a card: it casts no more votes, and the votes it cast count nowhere from now on."""
    if token.voided_at is not None:
        raise VoteRefused(_l("이미 사용을 중지한 투표 카드입니다."), 409)
    token.voided_at = now
    db.session.flush()
    audit(
        actor,
        "void-vote-token",
        f"vote-token:{token.id}",
        {"voided_at": None},
        {"voided_at": now.isoformat(), "votes": len(token.votes)},
    )


def votes_used(token: VoteToken) -> int:
    """How many votes the card has cast."""
    return db.session.scalar(select(func.count(Vote.id)).where(Vote.token_id == token.id)) or 0


def voted_entry_ids(token: VoteToken) -> set[int]:
    """The entries this card voted for."""
    return set(db.session.scalars(select(Vote.entry_id).where(Vote.token_id == token.id)))


# The window and casting --------------------------------------------------------------------------
def voting_window(contest: Contest) -> tuple[datetime, datetime]:
    """When voting opens and closes: the contest's own window, else the submission window's."""
    return (
        contest.voting_opens_at or contest.opens_at,
        contest.voting_closes_at or contest.closes_at,
    )


def voting_is_open(contest: Contest, now: datetime) -> bool:
    """Whether votes are taken at `now` (the window includes its opening, not its closing)."""
    opens, closes = voting_window(contest)
    return opens <= now < closes


def address_digest(address: str | None, key: str) -> str:
    """The keyed hash kept of a voter's address: HMAC-SHA-256 under the site's secret key.

    Enough to see many cards used from one address; keyed, so the stored hashes are no list to
    test guessed addresses against, and the address itself is never stored.
    """
    message = f"vote-address:{address or ''}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def cast(
    contest: Contest,
    entry: Entry,
    typed_token: str | None,
    address_hash: str,
    now: datetime,
    votes_per_token: int,
) -> Vote:
    """Count the card's vote for the entry, or refuse it and change nothing.

    Refusals: no card, outside the voting window, an unknown or voided card (403); a second
    vote for the same entry with the same card (409); a card with no votes left (403). The
    entry must be on display: the caller answers 404 for one that is not.
    """
    if not typed_token:
        raise VoteRefused(_l("투표하려면 먼저 투표 카드의 QR 코드를 찍어 주세요."))
    if not voting_is_open(contest, now):
        opens, _closes = voting_window(contest)
        if now < opens:
            raise VoteRefused(_l("아직 투표 기간이 아닙니다."))
        raise VoteRefused(_l("투표가 마감되었습니다."))
    token = find_token(contest, typed_token)
    if token is None:
        raise VoteRefused(
            _l("쓸 수 없는 투표 카드입니다. 부스에서 받은 카드의 QR 코드를 찍어 주세요.")
        )
    if token.voided_at is not None:
        raise VoteRefused(_l("사용이 중지된 투표 카드입니다."))
    voted = voted_entry_ids(token)
    if entry.id in voted:
        raise VoteRefused(_l("이 작품에는 이미 이 카드로 투표했습니다."), 409)
    if len(voted) >= votes_per_token:
        raise VoteRefused(_l("이 카드의 %(count)s표를 모두 썼습니다.", count=votes_per_token))
    vote = Vote(
        token_id=token.id,
        entry_id=entry.id,
        ordinal=len(voted) + 1,
        cast_at=now,
        address_digest=address_hash,
    )
    try:
        # A savepoint: a vote sent at the same moment from the same card that won the race
        # (same entry, or the card's last vote) fails here alone, as the refusal it is.
        with db.session.begin_nested():
            db.session.add(vote)
    except IntegrityError:
        raise VoteRefused(
            _l("이 카드로 방금 다른 투표가 들어왔습니다. 다시 확인해 주세요."), 409
        ) from None
    return vote


# Counting ---------------------------------------------------------------------------------------
def counted_votes(contest: Contest) -> Select:
    """Per entry, its counted votes (cards not voided) and when the last of them was cast."""
    return (
        select(
            Vote.entry_id,
            func.count(Vote.id).label("votes"),
            func.max(Vote.cast_at).label("last_vote_at"),
        )
        .join(VoteToken, VoteToken.id == Vote.token_id)
        .where(VoteToken.contest_id == contest.id, VoteToken.voided_at.is_(None))
        .group_by(Vote.entry_id)
    )


@dataclass(frozen=True)
class VoteStanding:
    """An entry's place in the people's choice of its category (None: no counted vote)."""

    entry_id: int
    category_id: int
    public_id: str
    receipt: str
    title: str
    status: str
    votes: int
    last_vote_at: datetime | None
    place: int | None


def peoples_choice_ranking(contest: Contest) -> list[VoteStanding]:
    """The one ranking of the people's choice (인기상): entries by counted votes, per category.

    Which entries: every entry on display now, and every entry that was voted for (even if
    it was hidden or rejected since; the proposal skips the rejected ones).
    Order, in category order: most counted votes first; a tie goes to the entry whose last
    counted vote came earlier (it reached that count first); a tie on that too goes to the
    lower entry id (the one entered first). Places are 1, 2, ... within each category, so
    no two entries share one; entries without a counted vote have none and come last.
    Counted votes are the votes of cards not voided; the jury's ranking never reads them.
    """
    counted = counted_votes(contest).subquery()
    voted = select(Vote.entry_id).join(VoteToken).where(VoteToken.contest_id == contest.id)
    rows = db.session.execute(
        select(
            Entry.id,
            Entry.category_id,
            Entry.public_id,
            Entry.receipt,
            Entry.title,
            Entry.status,
            counted.c.votes,
            counted.c.last_vote_at,
            Category.position,
        )
        .join(Category, Category.id == Entry.category_id)
        .outerjoin(counted, counted.c.entry_id == Entry.id)
        .where(Entry.contest_id == contest.id, or_(on_display(), Entry.id.in_(voted)))
    ).all()

    def order(row) -> tuple:
        votes = row.votes or 0
        # No counted vote: after every entry with one (its last-vote time plays no part).
        last = row.last_vote_at.timestamp() if votes else float("inf")
        return (row.position, row.category_id, -votes, last, row.id)

    standings, places = [], defaultdict(int)
    for row in sorted(rows, key=order):
        votes = row.votes or 0
        place = None
        if votes:
            places[row.category_id] += 1
            place = places[row.category_id]
        standings.append(
            VoteStanding(
                entry_id=row.id,
                category_id=row.category_id,
                public_id=row.public_id,
                receipt=row.receipt,
                title=row.title,
                status=row.status,
                votes=votes,
                last_vote_at=row.last_vote_at if votes else None,
                place=place,
            )
        )
    return standings


def public_count(contest: Contest, entry: Entry, now: datetime) -> int | None:
    """The entry's counted votes for the public: None while voting is open or not yet begun."""
    _opens, closes = voting_window(contest)
    if now < closes:
        return None
    row = db.session.execute(counted_votes(contest).where(Vote.entry_id == entry.id)).first()
    return row.votes if row else 0


# Suspicious cards --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suspicious:
    """A card worth a look: its votes came in a burst, and/or its address was shared by many."""

    token: VoteToken
    votes: int
    burst_seconds: float | None  # the quickest run of `burst` votes, when within the limit
    shared_address_cards: int  # the most cards that voted from one of its addresses


def suspicious_tokens(
    contest: Contest, burst: int, burst_seconds: float, per_address: int, votes_per_token: int
) -> list[Suspicious]:
    """Cards that cast `burst` votes (or all they may, if fewer; at least 2) within
    `burst_seconds`, and cards used from an address (hashed) that `per_address` cards or more
    voted from. Voided cards are listed too, marked by their `voided_at`. Most suspicious first.
    """
    run = max(2, min(burst, votes_per_token))
    times: dict[int, list[datetime]] = defaultdict(list)
    cards_of_address: dict[str, set[int]] = defaultdict(set)
    query = (
        select(Vote.token_id, Vote.cast_at, Vote.address_digest)
        .join(VoteToken, VoteToken.id == Vote.token_id)
        .where(VoteToken.contest_id == contest.id)
        .order_by(Vote.token_id, Vote.cast_at)
    )
    for token_id, cast_at, digest in db.session.execute(query):
        times[token_id].append(cast_at)
        cards_of_address[digest].add(token_id)
    shared: dict[int, int] = defaultdict(int)
    for cards in cards_of_address.values():
        if len(cards) >= per_address:
            for token_id in cards:
                shared[token_id] = max(shared[token_id], len(cards))
    quickest: dict[int, float] = {}
    for token_id, moments in times.items():
        spans = [
            (moments[i + run - 1] - moments[i]).total_seconds()
            for i in range(len(moments) - run + 1)
        ]
        if spans and min(spans) <= burst_seconds:
            quickest[token_id] = min(spans)
    flagged = set(quickest) | set(shared)
    if not flagged:
        return []
    tokens = {
        t.id: t for t in db.session.scalars(select(VoteToken).where(VoteToken.id.in_(flagged)))
    }
    found = [
        Suspicious(tokens[i], len(times[i]), quickest.get(i), shared.get(i, 0)) for i in flagged
    ]
    return sorted(
        found,
        key=lambda s: (
            s.burst_seconds is None,
            s.burst_seconds or 0,
            -s.shared_address_cards,
            s.token.id,
        ),
    )
