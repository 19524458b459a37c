"""What the admin dashboard shows beyond counts: submissions per hour, and disk use."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select

from .extensions import db
from .formatting import SEOUL
from .models import Asset, Contest, Entry


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

    @property
    def percent_used(self) -> int:
        """How full the disk holding the uploads is."""
        return round(100 * (self.total_bytes - self.free_bytes) / self.total_bytes)


def submissions_per_hour(contest: Contest) -> list[list[HourCount]]:
    """For each day of the fair, the entries received in each of its 24 hours (Seoul time).

    Reads one column of the contest's entries and buckets it here rather than in SQL, where
    time-zone arithmetic differs between SQLite and PostgreSQL; 100 000 timestamps take a
    fraction of a second.
    """
    first, last = contest.fair_starts_on, contest.fair_ends_on
    buckets: Counter[tuple[date, int]] = Counter()
    for (created_at,) in db.session.execute(
        select(Entry.created_at).where(Entry.contest_id == contest.id)
    ):
        local = created_at.astimezone(SEOUL)
        if first <= local.date() <= last:
            buckets[local.date(), local.hour] += 1
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [[HourCount(day, hour, buckets[day, hour]) for hour in range(24)] for day in days]


def disk_use() -> DiskUse:
    """The bytes of every stored file (from the database) and the upload disk's free space."""
    stored = db.session.scalar(select(func.coalesce(func.sum(Asset.size), 0)))
    usage = shutil.disk_usage(current_app.config["UPLOAD_FOLDER"])
    return DiskUse(stored_bytes=stored, free_bytes=usage.free, total_bytes=usage.total)


def busiest(days: list[list[HourCount]]) -> int:
    """The largest hourly count (at least 1, so bar heights can be divided by it)."""
    return max([1, *(h.count for day in days for h in day)])
