"""What the admin dashboard shows beyond counts: submissions per hour, disk use, and accounts
someone is guessing the passwords of."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select

from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.core.phones import display_phone
from contest.models import (
    Asset,
    AuditLog,
    Award,
    Category,
    Contest,
    Entry,
    LoginFailure,
    User,
    utcnow,
)
from contest.services.accounts import CEILING_ACTION
from contest.services.awards import awards_of

# How long an account that met the sign-in ceiling stays on the dashboard: a lock lasts only
# the failure window, and the admins should still see it the next time they look.
SIGN_IN_ALERT_HOURS = 24


@dataclass(frozen=True)
class HourCount:
    """Entries received in one hour of a fair day (Seoul time)."""

    day: date
    hour: int
    count: int


@dataclass(frozen=True)
class DiskUse:
    """What the stored files take, and what the disk still has."""

    stored_bytes: int
    free_bytes: int
    total_bytes: int
    warning_below: int  # free bytes under which the organisers are warned

    @property
    def is_low(self) -> bool:
        """Whether free space is under the warning threshold (uploads may soon be refused)."""
        return self.free_bytes < self.warning_below

    @property
    def percent_used(self) -> int:
        """How full the disk holding the uploads is."""
        return round(100 * (self.total_bytes - self.free_bytes) / self.total_bytes)


# A week of hours per statement: PostgreSQL takes at most 1664 columns in one SELECT.
_HOURS_PER_STATEMENT = 7 * 24


def submissions_per_hour(contest: Contest) -> list[list[HourCount]]:
    """For each day of the fair, the entries received in each of its 24 hours (Seoul time).

    One statement of a count per hour, each a range of the (contest, created_at) index: the
    hours' bounds are worked out here, so no time-zone arithmetic differs between SQLite and
    PostgreSQL, and no timestamp is read into Python (at 100 000 entries reading them all took
    0.6 s a page).
    """
    first, last = contest.fair_starts_on, contest.fair_ends_on
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    hours = [(day, hour) for day in days for hour in range(24)]
    starts = [datetime.combine(day, time(hour), SEOUL) for day, hour in hours]
    counts: list[int] = []
    for week in range(0, len(starts), _HOURS_PER_STATEMENT):
        counts += db.session.execute(
            select(
                *(
                    select(func.count())
                    .where(
                        Entry.contest_id == contest.id,
                        Entry.created_at >= start,
                        Entry.created_at < start + timedelta(hours=1),
                    )
                    .scalar_subquery()
                    for start in starts[week : week + _HOURS_PER_STATEMENT]
                )
            )
        ).one()
    by_hour = dict(zip(hours, counts, strict=True))
    return [[HourCount(day, hour, by_hour[day, hour]) for hour in range(24)] for day in days]


def disk_use() -> DiskUse:
    """The bytes of every stored file (from the database) and the upload disk's free space.

    The upload folder's disk is the one that matters even with S3: uploads spool there first.
    """
    config = current_app.config
    stored = db.session.scalar(select(func.coalesce(func.sum(Asset.size), 0)))
    usage = shutil.disk_usage(config["UPLOAD_FOLDER"])
    return DiskUse(
        stored_bytes=stored,
        free_bytes=usage.free,
        total_bytes=usage.total,
        warning_below=config["DISK_FREE_WARNING_BYTES"],
    )


def busiest(days: list[list[HourCount]]) -> int:
    """The largest hourly count (at least 1, so bar heights can be divided by it)."""
    return max([1, *(h.count for day in days for h in day)])


def entry_counts(contest: Contest) -> list[tuple[Category, dict[str, int]]]:
    """Each category of the contest with its number of entries per status (none left out)."""
    query = (
        select(Entry.category_id, Entry.status, func.count(Entry.id))
        .where(Entry.contest_id == contest.id)
        .group_by(Entry.category_id, Entry.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for category_id, status, count in db.session.execute(query):
        counts.setdefault(category_id, {})[status] = count
    return [(category, counts.get(category.id, {})) for category in contest.categories]


@dataclass(frozen=True)
class SignInAlert:
    """An account that met the sign-in ceiling: guesses from many addresses."""

    user_id: int
    username: str
    at: datetime
    failures: int
    addresses: int
    locked: bool  # still at the ceiling now: no address can sign in to it


def sign_in_alerts() -> list[SignInAlert]:
    """Accounts that met the sign-in ceiling in the last day, newest first, one row each
    (from the audit entries `accounts` writes), and whether each is locked now."""
    config = current_app.config
    since = utcnow() - timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"])
    entries = db.session.scalars(
        select(AuditLog)
        .where(
            AuditLog.action == CEILING_ACTION,
            AuditLog.at >= utcnow() - timedelta(hours=SIGN_IN_ALERT_HOURS),
        )
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
    )
    alerts: dict[str, SignInAlert] = {}
    for entry in entries:
        username = entry.new["username"]
        if username in alerts:
            continue
        failures_now = db.session.scalar(
            select(func.count(LoginFailure.id)).where(
                LoginFailure.username == username, LoginFailure.at >= since
            )
        )
        alerts[username] = SignInAlert(
            user_id=int(entry.target.removeprefix("user:")),
            username=username,
            at=entry.at,
            failures=entry.new["failures"],
            addresses=entry.new["addresses"],
            locked=failures_now >= config["LOGIN_ACCOUNT_MAX_FAILURES"],
        )
    return list(alerts.values())


@dataclass(frozen=True)
class SharedWinner:
    """One entrant (same phone or same e-mail) holding several awards of the contest."""

    contact: str  # the phone as people write it, or the e-mail address, that they share
    awards: list[Award]


def active_judges() -> int:
    """Judges whose accounts are enabled: fewer than the quorum leaves entries unranked."""
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == "judge", User.active)
    )


def entrants_with_several_awards(contest: Contest) -> list[SharedWinner]:
    """Entrants who hold two awards or more, found by the same phone or the same e-mail.

    E-mails are compared without regard to case. Awards linked by a phone and by an e-mail
    too are listed once, under the phone.
    """
    groups: dict[tuple[str, str], list[Award]] = {}
    for award in awards_of(contest):
        entry = award.entry
        if entry.phone:
            groups.setdefault(("phone", entry.phone), []).append(award)
        if entry.email:
            groups.setdefault(("email", entry.email.casefold()), []).append(award)
    found, seen = [], set()
    for (kind, value), held in groups.items():
        ids = frozenset(a.id for a in held)
        if len(ids) < 2 or ids in seen:
            continue
        seen.add(ids)
        contact = display_phone(value) if kind == "phone" else held[0].entry.email
        found.append(SharedWinner(contact, held))
    return found
