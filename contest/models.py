"""The database tables: contests, entries and their files; judges, rounds, scores, audit log."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contest.core.extensions import db
from contest.services import receipts


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def new_public_id() -> str:
    """An entry's public id for the gallery and the wall: random, so it reveals neither the
    receipt code (which shows and withdraws the entry) nor how many entries exist.

    It begins with a letter or digit: a spreadsheet reads "-abc..." as a formula, so the CSV
    exports would have to show such an id with an apostrophe in front (one id in 32 did).
    """
    while not (public_id := secrets.token_urlsafe(12))[0].isalnum():
        pass
    return public_id


class UTCDateTime(TypeDecorator):
    """A moment stored as naive UTC and read back as aware UTC (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: say which time zone it is in")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Contest(db.Model):
    """A contest: the fair's UCC contest is seeded by `init-db`; admins edit its dates later."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    venue: Mapped[str] = mapped_column(String(200), default="")
    fair_starts_on: Mapped[date] = mapped_column(Date)
    fair_ends_on: Mapped[date] = mapped_column(Date)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prizes: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[str] = mapped_column(Text, default="")
    # The English of the texts above, as the admins typed it. Empty: English pages show the
    # catalogue's translation of the Korean (the seeded texts have one), else the Korean.
    title_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    description_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    venue_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    prizes_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    rules_en: Mapped[str] = mapped_column(Text, default="", server_default="")
    # None: the MAX_ENTRIES_PER_ENTRANT setting; a number set on /admin/contest wins over it.
    max_entries_per_entrant: Mapped[int | None]
    # None: the PUBLIC_URL setting; e.g. https://contest.example.kr, for the poster and links.
    public_url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when admins publish the awards: /winners shows them from then on.
    results_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The people's-choice vote (인기상). None: the submission window's opening or closing,
    # so by default voting is open while submissions are (`votes.voting_window`).
    voting_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voting_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    categories: Mapped[list[Category]] = relationship(
        back_populates="contest", order_by="Category.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("opens_at < closes_at", name="window_order"),
        CheckConstraint("max_entries_per_entrant >= 1", name="max_entries_positive"),
        CheckConstraint(
            "voting_opens_at IS NULL OR voting_closes_at IS NULL"
            " OR voting_opens_at < voting_closes_at",
            name="voting_window_order",
        ),
    )

    def is_open(self, now: datetime) -> bool:
        """Whether entries are accepted at `now`."""
        return self.opens_at <= now < self.closes_at

    def category_for(self, kind: str) -> Category | None:
        """The category that takes entries of this kind of media ("photo" or "video")."""
        return next((c for c in self.categories if c.kind == kind and c.enabled), None)

    @property
    def open_categories(self) -> list[Category]:
        """The categories that take entries now (an admin may switch one off)."""
        return [c for c in self.categories if c.enabled]


class Category(db.Model):
    """A category of a contest; each takes one kind of media.

    A category switched off takes no new entries and leaves the visitors' pages; its entries
    and awards stay (entries refer to it), so it is never deleted.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())

    contest: Mapped[Contest] = relationship(back_populates="categories")
    # Empty: the AWARD_TIERS setting; stored once an admin saves the contest settings.
    award_tiers: Mapped[list[AwardTier]] = relationship(
        back_populates="category", order_by="AwardTier.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("contest_id", "slug"),
        CheckConstraint("kind IN ('photo', 'video')", name="kind"),
    )


class AwardTier(db.Model):
    """An award tier of one category (대상, 최우수상, ...): its name and how many it gives."""

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="", server_default="")
    count: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)

    category: Mapped[Category] = relationship(back_populates="award_tiers")

    __table_args__ = (
        UniqueConstraint("category_id", "slug"),
        CheckConstraint("count >= 0", name="count_not_negative"),
    )


class Entry(db.Model):
    """One visitor's entry: who entered, what they consented to, and what the file is."""

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    receipt: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The entrant. Phone is E.164 and e-mail lower-cased, so the per-entrant limit counts a
    # person once however they typed it.
    entrant_name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20))
    under14: Mapped[bool] = mapped_column(default=False)
    guardian_name: Mapped[str | None] = mapped_column(String(50))
    guardian_phone: Mapped[str | None] = mapped_column(String(20))

    # Consent, as the personal-information law asks: which notice, when, and each one separately.
    consent_version: Mapped[str] = mapped_column(String(40))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_publish: Mapped[bool] = mapped_column(default=False)
    guardian_consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the entrant declared the work their own and not made with AI (the form's required
    # `declaration`, worded by `consent_version`); None for entries made before it existed.
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The file as sent: its name only as display text, never used in a path.
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    media_format: Mapped[str] = mapped_column(String(10))
    width: Mapped[int]
    height: Mapped[int]
    # Size and SHA-256 of the stored original (duplicate detection; backups and doctor check
    # the file against them): those of the file as sent until the retention purge rewrites it
    # without its personal tags, then the rewritten file's.
    file_size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # Camera-local time from EXIF, which records no time zone. No column holds a location: GPS
    # and other place data exist only inside stored originals (admins only) until the purge.
    captured_at: Mapped[datetime | None] = mapped_column(DateTime)
    camera_make: Mapped[str | None] = mapped_column(String(100))
    camera_model: Mapped[str | None] = mapped_column(String(100))
    # What the original says about where it came from (`media/provenance.py`): the C2PA
    # summary, AI markers, a screenshot hint, or why it could not be read; None: not read.
    provenance: Mapped[dict | None] = mapped_column(JSON)

    # Videos only. Location atoms in the container are never read into any column.
    video_codec: Mapped[str | None] = mapped_column(String(10))
    audio_codec: Mapped[str | None] = mapped_column(String(10))
    duration: Mapped[float | None]  # seconds
    frame_rate: Mapped[float | None]
    rotation: Mapped[int | None]  # degrees, from the display matrix
    # The browser-playable copy is made in the background: pending, ready or failed (why).
    playback_status: Mapped[str | None] = mapped_column(String(10))
    playback_error: Mapped[str | None] = mapped_column(Text)

    # Moderation is by exception: an entry is judged unless an admin rejects it (with a reason).
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Perceptual hash (64-bit pHash, hex) of the thumbnail, for near-duplicate flags.
    phash: Mapped[str | None] = mapped_column(String(16))
    # Set when the entrant's personal data was erased after the retention period.
    personal_data_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language of the form the entrant used ("ko", "en"): their e-mails are written in it.
    # None for entries made before it was recorded: Korean.
    language: Mapped[str | None] = mapped_column(String(8))
    # When the winner's e-mail went out: publishing again (after unpublishing) sends none twice.
    # On the entry, not the award: proposing afresh replaces every award row.
    winner_mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The entry's place in the judges' queue: its counted scores in the contest's open round
    # (scores of judges not recused from it), or NULL when no open round holds it (none is
    # open, it was rejected, or it did not advance into the open round). Kept by
    # `queue_counts` on every change that moves it, so /judge/next walks an index
    # in this order instead of counting every entry's scores (bench/growth.py).
    queue_scores: Mapped[int | None] = mapped_column(server_default=text("0"))
    # The id the public sees (gallery, wall): never the receipt code, never the row number.
    public_id: Mapped[str] = mapped_column(String(24), unique=True, default=new_public_id)
    # Showing on the booth's wall and in the gallery is opt-in for a government fair: an admin
    # approves (or hides) each entry; WALL_AUTO_APPROVE approves on arrival. Only entries whose
    # entrant agreed to publication are ever shown, whatever this says (services/display.py).
    display: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    display_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    contest: Mapped[Contest] = relationship()
    category: Mapped[Category] = relationship()
    assets: Mapped[list[Asset]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # The same photo twice in one contest is refused; the schema holds that even under races.
        UniqueConstraint("contest_id", "sha256"),
        CheckConstraint(
            "NOT under14 OR (guardian_name IS NOT NULL AND guardian_phone IS NOT NULL"
            " AND guardian_consented_at IS NOT NULL)",
            name="guardian_for_under14",
        ),
        CheckConstraint(
            "playback_status IS NULL OR playback_status IN ('pending', 'ready', 'failed')",
            name="playback_status",
        ),
        CheckConstraint("status IN ('submitted', 'rejected')", name="status"),
        CheckConstraint("display IN ('pending', 'approved', 'hidden')", name="display"),
        Index("ix_entry_contest_phone", "contest_id", "phone"),
        Index("ix_entry_contest_email", "contest_id", "email"),
        # The admin's entry list, newest first: without it every page sorted every entry
        # (bench/growth.py: 194 ms at 100 000 entries, 21 ms with it).
        Index("ix_entry_contest_created", "contest_id", "created_at", "id"),
        # The judges' queue: fewest counted scores first, then a range of ids at random.
        Index("ix_entry_queue", "contest_id", "queue_scores", "id"),
        # The leaderboard counts each category's entries from the index alone.
        Index("ix_entry_contest_category_status", "contest_id", "category_id", "status"),
    )

    @property
    def is_video(self) -> bool:
        """Whether this entry is a video (it then has a poster and, once made, a playback copy)."""
        return self.video_codec is not None

    def asset(self, role: str) -> Asset | None:
        """This entry's file in the given role ("original", "preview", "thumbnail")."""
        return next((a for a in self.assets if a.role == role), None)

    @property
    def receipt_display(self) -> str:
        """The receipt code in groups, easier to read aloud and type back: ABCD-EFGH-JKLMN."""
        return receipts.grouped(self.receipt)


class Asset(db.Model):
    """A stored file of an entry: the untouched original or a derivative made from it.

    Roles: original; preview (a photo's 1600 px JPEG, or a video's poster); thumbnail (480 px);
    playback (a video's browser-playable H.264/AAC MP4); full (a photo at full resolution,
    metadata-free, made on first request for judges who zoom in).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]

    entry: Mapped[Entry] = relationship(back_populates="assets")

    __table_args__ = (
        UniqueConstraint("entry_id", "role"),
        CheckConstraint(
            "role IN ('original', 'preview', 'thumbnail', 'playback', 'full')", name="role"
        ),
    )


class User(db.Model):
    """A judge or an admin: personal accounts only, so every action is attributable."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept in the signed session cookie at sign-in; raising it (sign-out, disabling, a new
    # password) ends every session of the user, copies of the cookie included.
    session_version: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Where a judge's daily reminder goes when they fall behind (optional; set on the jury page).
    email: Mapped[str | None] = mapped_column(String(254))

    __table_args__ = (CheckConstraint("role IN ('judge', 'admin')", name="role"),)

    @property
    def is_admin(self) -> bool:
        """Whether this user runs the contest."""
        return self.role == "admin"


class Round(db.Model):
    """A judging round of a contest; at most one is open at a time.

    The first round takes every entry not rejected; a later round takes the entries that
    advanced into it (`RoundEntry`). A screening round asks yes/no; a scoring round asks for
    each criterion from 1 to 10; a ranking round asks each judge to put the entries in order
    (`JudgeRanking`), counted with the Schulze method (`services/schulze.py`).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="open")
    takes_all_entries: Mapped[bool] = mapped_column(default=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How many counted scores each entry needs; None: the QUORUM setting (as before rounds
    # had their own). Changed mid-round on the jury page, after a preview of the work it adds.
    quorum: Mapped[int | None]
    # When the judging should be done: who is behind schedule is measured against it.
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A ranking round only: judges order just their top N; the rest tie below them. None: all.
    rank_top: Mapped[int | None]

    contest: Mapped[Contest] = relationship()
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="round", order_by="Criterion.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("contest_id", "number"),
        CheckConstraint("method IN ('screening', 'scoring', 'ranking')", name="method"),
        CheckConstraint("rank_top IS NULL OR rank_top > 0", name="rank_top"),
        CheckConstraint("status IN ('draft', 'open', 'closed')", name="status"),
        CheckConstraint("quorum >= 1", name="quorum_positive"),
        # One open round per contest, held by the schema.
        Index(
            "uq_round_one_open",
            "contest_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


class Criterion(db.Model):
    """What judges score in a scoring round, with its weight in percent (weights sum to 100)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(100))
    weight: Mapped[int]
    position: Mapped[int] = mapped_column(default=0)

    round: Mapped[Round] = relationship(back_populates="criteria")

    __table_args__ = (
        UniqueConstraint("round_id", "slug"),
        CheckConstraint("weight > 0 AND weight <= 100", name="weight"),
    )


class RoundEntry(db.Model):
    """An entry that advanced into a later round."""

    round_id: Mapped[int] = mapped_column(
        ForeignKey("round.id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True
    )


class Score(db.Model):
    """One judge's score of one entry in one round; posting again revises it.

    `total` is what aggregates use: in a scoring round the weighted sum of the criteria
    (Σ weight × value / 100, on the 1–10 scale); in a screening round 1 for yes, 0 for no.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    total: Mapped[float]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("round_id", "entry_id", "judge_id"),
        # Both carry the total, so the results' GROUP BYs (per entry, per judge) read an index
        # alone, never the rows (bench/growth.py); the second also serves "what did this judge
        # score".
        Index("ix_score_round_entry_total", "round_id", "entry_id", "judge_id", "total"),
        Index("ix_score_round_judge_total", "round_id", "judge_id", "entry_id", "total"),
    )


class JudgeRanking(db.Model):
    """One judge's latest order of a ranking round's entries, best first; posting again replaces it.

    `entry_ids` holds what the judge ranked (all of the round's entries, or only the top
    `Round.rank_top`): entries of the round left out tie below them when counted. One row per
    judge and round, so "the latest counts" is held by the schema.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    judge_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    entry_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("round_id", "judge_id"),)


class Recusal(db.Model):
    """A judge's conflict of interest with an entry: out of their queue and its aggregates."""

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True
    )
    judge_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The judge's queue asks "what has this judge recused?" on every request.
    __table_args__ = (Index("ix_recusal_judge_id", "judge_id"),)


class CalibrationEntry(db.Model):
    """An entry every judge of a scoring round scores first, to compare judges on the same works."""

    round_id: Mapped[int] = mapped_column(
        ForeignKey("round.id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=0)


class JudgeCategory(db.Model):
    """A category a judge is limited to in a round; a judge with none judges every category."""

    round_id: Mapped[int] = mapped_column(
        ForeignKey("round.id", ondelete="CASCADE"), primary_key=True
    )
    judge_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), primary_key=True
    )


class JudgeNote(db.Model):
    """A judge's private note on an entry: only that judge ever sees it."""

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True
    )
    judge_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JudgeReminder(db.Model):
    """A reminder mailed to a judge behind schedule: the key (judge, Seoul day) is the claim
    that keeps it to one a day, however many workers run the periodic job."""

    judge_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    sent_on: Mapped[date] = mapped_column(Date, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditLog(db.Model):
    """Who did what, when, with the value before and after (scores, accounts, rounds)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(100))
    old: Mapped[dict | None] = mapped_column(JSON)
    new: Mapped[dict | None] = mapped_column(JSON)


class WallEvent(db.Model):
    """Something the booth's walls must show: an entry went on display ("shown") or off it
    ("removed"). Written in the same transaction as the change, so a wall never hears of a
    change that was rolled back; the ids order the events for every worker and app server,
    and a wall that reconnects asks for those after the last it saw (services/wall_events.py).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Not a foreign key: a withdrawn entry's row is gone, its "removed" event must stay.
    public_id: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(10))

    __table_args__ = (CheckConstraint("action IN ('shown', 'removed')", name="action"),)


class LoginFailure(db.Model):
    """A failed login, kept briefly to throttle guessing per account and per address.

    Kept in the database rather than in process memory so the limit holds across every
    server worker.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Flag(db.Model):
    """Something an admin should look at, computed at submission; never a rejection by itself.

    Kinds: near-duplicate (of `other_entry`), capture-time (EXIF time outside the fair's dates,
    or missing), low-resolution, no-camera-data (a screenshot or a download?); and raised by a
    judge (`flagged_by`): possible-ai, not-at-fair, no-consent (people who may not have agreed);
    from the original's provenance (their codes are those entries.csv promises): ai_declared,
    c2pa_invalid, provenance_unreadable, screenshot.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    other_entry_id: Mapped[int | None] = mapped_column(ForeignKey("entry.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    dismiss_reason: Mapped[str | None] = mapped_column(Text)
    flagged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    entry: Mapped[Entry] = relationship(foreign_keys=[entry_id])
    other_entry: Mapped[Entry | None] = relationship(foreign_keys=[other_entry_id])

    __table_args__ = (
        CheckConstraint(
            "kind IN ('near-duplicate', 'capture-time', 'low-resolution', 'no-camera-data',"
            " 'possible-ai', 'not-at-fair', 'no-consent',"
            " 'ai_declared', 'c2pa_invalid', 'provenance_unreadable', 'screenshot')",
            name="kind",
        ),
    )


class Award(db.Model):
    """An award given to an entry: its tier (대상, 최우수상, ...) within its category."""

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), unique=True)
    tier: Mapped[str] = mapped_column(String(20))
    position: Mapped[int]  # order within the category: 1 for the first prize, and so on
    # The entry's rank on the leaderboard the award was given from (a proposal, or the
    # leaderboard at a hand move); None when it had none. The winners' exports read it here
    # rather than ranking every entry again for a dozen rows.
    rank: Mapped[int | None]
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[Entry] = relationship()
    category: Mapped[Category] = relationship()


class WithdrawnReceipt(db.Model):
    """A receipt code whose entry was withdrawn, kept only as a keyed hash.

    So that the code answers "withdrawn" (410) rather than "not found" without keeping anything
    of the entry or its entrant: the digest is an HMAC-SHA-256 of the code under the site's
    secret key (`receipts.withdrawn_digest`), which cannot be turned back into the code.
    """

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)


class Upload(db.Model):
    """A resumable (tus) upload in flight.

    The id is the unguessable name in its URL; `owner` is the random token of the browser
    session that created it, so another session cannot see, extend or finish it. Complete when
    its offset reaches `length`. Entry forms name a complete upload by id; accepting it
    removes the row.

    Local storage: the bytes grow in the storage's `tmp/tus/<id>`, whose size is the offset
    (no row is written per chunk). S3 storage (`multipart` set): the bytes are an S3
    multipart upload whose parts are `parts`, plus a tail under 5 MiB kept as the object
    `tmp/tus/<id>.tail`; `received` is the offset, counting only bytes stored in the bucket,
    so any app server can take the next piece. A PATCH claims the row for its S3 traffic
    (`claims` counts the claims and numbers them, `claimed_at` marks one in progress) and
    writes its part or a new tail object named by its claim number; `tail_claim` is the claim
    whose tail object holds the tail (0: `tmp/tus/<id>.tail`, or no tail).
    """

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    filetype: Mapped[str] = mapped_column(String(100), default="")
    filename: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    received: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    multipart: Mapped[str | None] = mapped_column(String(1024))
    claims: Mapped[int] = mapped_column(default=0, server_default="0")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tail_claim: Mapped[int] = mapped_column(default=0, server_default="0")
    # The content checks run in the background once the last byte is in (`upload_checks`):
    # None (not started, or could not be queued), "checking", "ok" or "refused". `check_sha256`
    # is the hash of the bytes checked, so a verdict is only used for those very bytes;
    # `check_result` holds what submit needs ("ok": the media facts, the derivatives being
    # files of the upload) or the refusal's message in each language ("refused").
    check_state: Mapped[str | None] = mapped_column(String(10))
    check_sha256: Mapped[str | None] = mapped_column(String(64))
    check_result: Mapped[dict | None] = mapped_column(JSON)

    parts: Mapped[list[UploadPart]] = relationship(
        back_populates="upload", cascade="all, delete-orphan", order_by="UploadPart.number"
    )

    __table_args__ = (CheckConstraint("length >= 0", name="length_not_negative"),)


class UploadPart(db.Model):
    """One stored part of an upload's S3 multipart upload (5 MiB or more, except the last)."""

    __tablename__ = "upload_part"

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("upload.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    etag: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)

    upload: Mapped[Upload] = relationship(back_populates="parts")


class VoteToken(db.Model):
    """A vote card handed out at the booth: its random code casts the people's-choice votes.

    The code is printed on the card (and in its QR code), so it is stored as it is: admins
    reprint and void cards by it. Unguessable (16 characters of 31, about 79 bits), so a
    visitor cannot make up a card. `batch` groups the cards made together, to print them.
    A voided card casts no more votes, and the votes it cast count nowhere.
    """

    __tablename__ = "vote_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(32), unique=True)
    batch: Mapped[str] = mapped_column(String(24), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    votes: Mapped[list[Vote]] = relationship(
        back_populates="token", cascade="all, delete-orphan", passive_deletes=True
    )


class Vote(db.Model):
    """One people's-choice vote: which card gave it to which entry, when, and from where.

    The address is kept only as a keyed hash (`votes.address_digest`), enough to see many
    cards used from one address, never the address itself. The schema holds the card's rules
    under races: one vote per card and entry, and `ordinal` (1, 2, ... up to VOTES_PER_TOKEN)
    unique per card, so two votes sent at once cannot both take the card's last vote.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("vote_token.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entry.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int]
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address_digest: Mapped[str] = mapped_column(String(64), index=True)

    token: Mapped[VoteToken] = relationship(back_populates="votes")
    entry: Mapped[Entry] = relationship()

    __table_args__ = (
        UniqueConstraint("token_id", "entry_id"),
        UniqueConstraint("token_id", "ordinal"),
        CheckConstraint("ordinal >= 1", name="ordinal_positive"),
    )
