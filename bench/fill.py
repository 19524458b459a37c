"""Bulk-filling a benchmark database: staff accounts and entries with their derivative rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from contest.core.extensions import db
from contest.models import Asset, Category, Entry, Round, User
from contest.services.rounds import total_of

CHUNK = 20_000  # rows per INSERT: SQLite's statement size stays modest at 100 000 entries


def add_staff(judges: int, password: str) -> list[int]:
    """One `bench-admin` and `judges` judges (bench-judge-00, ...); returns the judges' ids."""
    password_hash = generate_password_hash(password, method="scrypt:1024:8:1")  # cheap on purpose
    db.session.execute(
        insert(User),
        [{"username": "bench-admin", "role": "admin", "password_hash": password_hash}]
        + [
            {"username": f"bench-judge-{n:02}", "role": "judge", "password_hash": password_hash}
            for n in range(judges)
        ],
    )
    return list(db.session.scalars(select(User.id).where(User.role == "judge").order_by(User.id)))


def add_entries(
    contest_id: int, categories: dict[str, Category], count: int, now: datetime
) -> list[int]:
    """`count` entries (a quarter videos, one in a hundred rejected), two seconds apart up to
    `now`, each with preview and thumbnail rows (no files); returns their ids."""
    start = now - timedelta(seconds=2 * count)
    for first in range(0, count, CHUNK):
        rows = []
        for n in range(first, min(count, first + CHUNK)):
            kind = "video" if n % 4 == 0 else "photo"
            rows.append(
                {
                    "contest_id": contest_id,
                    "category_id": categories[kind].id,
                    "receipt": f"B{n:012d}",
                    "status": "rejected" if n % 100 == 99 else "submitted",
                    "title": f"벤치 작품 {n}",
                    "entrant_name": f"응모자{n}",
                    "email": f"bench{n}@example.com",
                    "phone": f"+8210{n:08d}",
                    "consent_version": "bench",
                    "consented_at": now,
                    "created_at": start + timedelta(seconds=2 * n),
                    "media_format": "mp4" if kind == "video" else "JPEG",
                    "video_codec": "h264" if kind == "video" else None,
                    "width": 1920,
                    "height": 1080,
                    "file_size": 1_000_000,
                    "sha256": f"{n:064x}",
                    # Spread-out pHashes, so the near-duplicate scan of a new entry reads them all.
                    "phash": f"{(n * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF:016x}",
                }
            )
        db.session.execute(insert(Entry), rows)
    entry_ids = list(db.session.scalars(select(Entry.id).order_by(Entry.id)))
    assets = [
        {
            "entry_id": entry_id,
            "role": role,
            "key": f"derived/bench-{role}-{entry_id}.jpg",
            "content_type": "image/jpeg",
            "size": 1000,
            "width": width,
            "height": width * 3 // 4,
        }
        for entry_id in entry_ids
        for role, width in (("preview", 1600), ("thumbnail", 480))
    ]
    for first in range(0, len(assets), 2 * CHUNK):
        db.session.execute(insert(Asset), assets[first : first + 2 * CHUNK])
    return entry_ids


def score_row(round_: Round, entry_id: int, judge_id: int, values: dict, now: datetime) -> dict:
    """One judge's score of one entry, as a row for a bulk insert."""
    return {
        "round_id": round_.id,
        "entry_id": entry_id,
        "judge_id": judge_id,
        "values": values,
        "total": total_of(round_, values),
        "created_at": now,
        "updated_at": now,
    }
