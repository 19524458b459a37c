"""Erasing personal data once its retention period is over (the personal-information law).

Winners keep theirs: the prize must reach them and the published results name them.

The originals it keeps (every winner's, and non-winners' without --originals) lose the
personal data inside them: location, owner and serial-number tags are stripped, the file
rewritten without them (`media.personal_tags` for photos, pictures untouched; a remux without
tags for videos, `media.clean_copy`), or deleted with --winners-originals. A rewritten original
is a new file: its entry's sha256 and file size follow it, so backups, restores and `doctor`
keep checking originals against their entry. (The hash no longer finds the file as it was
sent again as a duplicate: the contest is long over by then.)

Backups taken before the purge still hold what it erased: `backups_before` lists those the
`backup` command recorded, for the operator to destroy.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

import av
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.file_transactions import delete_once_committed, remove_unless_committed
from contest.media.clean_copy import leftover_metadata, remux_clean
from contest.media.personal_tags import Unreadable, strip_photo
from contest.models import AuditLog, Award, Contest, Entry, User, utcnow
from contest.services.audit import audit
from contest.storage import get_storage

# The muxer that writes each stored video container back (Entry.media_format of a video).
_MUXERS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "matroska": "matroska"}


@dataclass(frozen=True)
class Purged:
    """What one purge did to one contest."""

    contest: str
    rule: str  # "published" (all entries) or "unpublished" (entries submitted before)
    entries: int  # entries whose personal data was erased by this run
    originals: int  # original files deleted by this run
    cleaned: int = 0  # kept originals rewritten without location, owner and serial tags
    # Receipts (as shown) of kept originals that could not be cleaned: a format not handled
    # (WebP) or a structure that could not be walked. Listed, to delete or clean by hand.
    uncleaned: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Backup:
    """A backup the `backup` command recorded: it still holds everything it copied."""

    at: datetime
    folder: str
    host: str


def purge_personal_data(
    before: datetime, originals: bool, actor: User | None, winners_originals: bool = False
) -> list[Purged]:
    """Erase the personal data of non-winners whose retention period is over.

    In scope: every entry of a contest whose results were published before `before`; for a
    contest not yet published, the entries submitted before `before`. Winners (entries with
    an award) keep their data: the prize must reach them and the published results name them.
    An erased entry keeps its receipt, title, derivatives, scores and awards, so the results
    stay reproducible; name, e-mail and phone become "" (the columns are NOT NULL), the
    guardian's NULL ("" for an under-14 entry, which the schema requires to have one), the
    sent file name "". With `originals`, its original file goes
    too (the Asset row now, the file once the deletion has committed); with
    `winners_originals`, the winners' originals in scope go the same way. Every original in
    scope that stays is rewritten without its location, owner and serial tags (`_clean_kept`;
    the new file is stored now and removed if the transaction does not commit, the old one
    deleted once it has). Running it again changes nothing more. One audit row per run.
    Flushes; the caller commits.
    """
    now = utcnow()
    done = []
    storage = get_storage()
    for contest in db.session.scalars(select(Contest).order_by(Contest.id)):
        published = contest.results_published_at
        if published is not None and published >= before:
            continue
        query = select(Entry).where(Entry.contest_id == contest.id).order_by(Entry.id)
        if published is None:
            query = query.where(Entry.created_at < before)
        winners = set(
            db.session.scalars(select(Award.entry_id).where(Award.contest_id == contest.id))
        )
        erased, keys, cleaned, uncleaned = 0, [], 0, []
        for entry in db.session.scalars(query):
            winner = entry.id in winners
            if not winner and entry.personal_data_purged_at is None:
                _erase(entry, now)
                erased += 1
            original = entry.asset("original")
            if original is None:
                continue
            if winners_originals if winner else originals:
                keys.append(original.key)
                entry.assets.remove(original)
                continue
            result = _clean_kept(entry, original, storage)
            if result is None:
                uncleaned.append(entry.receipt_display)
            cleaned += bool(result)
        db.session.flush()
        delete_once_committed(keys)
        rule = "unpublished" if published is None else "published"
        done.append(Purged(contest.title, rule, erased, len(keys), cleaned, uncleaned))
    audit(
        actor,
        "purge-personal-data",
        "entries",
        None,
        {
            "before": before.isoformat(),
            "originals": originals,
            "winners_originals": winners_originals,
            "by": actor.username if actor else "cli",
            "contests": [vars(p) for p in done],
        },
    )
    db.session.flush()
    return done


def backups_before(moment: datetime) -> list[Backup]:
    """The backups recorded before `moment` (oldest first): each still holds what a purge at
    that moment erased, in its copy of the database and of the original files."""
    rows = db.session.scalars(
        select(AuditLog)
        .where(AuditLog.action == "backup", AuditLog.at < moment)
        .order_by(AuditLog.at, AuditLog.id)
    )
    return [
        Backup(
            row.at, str((row.new or {}).get("folder", "?")), str((row.new or {}).get("host", "?"))
        )
        for row in rows
    ]


def _clean_kept(entry: Entry, original, storage) -> bool | None:
    """Rewrite a kept original without its personal tags: True when rewritten, False when it
    had none (or is missing: `doctor` reports that), None when it could not be cleaned."""
    if not storage.exists(original.key):
        return False
    suffix = PurePosixPath(original.key).suffix
    target = storage.tmp / f"purge-{secrets.token_hex(8)}{suffix}"
    try:
        with storage.local_copy(original.key) as path:
            if entry.is_video:
                muxer = _MUXERS.get(entry.media_format)
                if muxer is None:
                    return None
                if not leftover_metadata(path):
                    return False
                remux_clean(path, target, muxer)
            else:
                data = path.read_bytes()
                stripped = strip_photo(data, entry.media_format)
                if stripped is None:
                    return None
                if stripped == data:
                    return False
                target.write_bytes(stripped)
        digest, size = _sha256(target), target.stat().st_size
        key = storage.new_key("originals", suffix)
        storage.adopt(target, key)
    except (Unreadable, av.FFmpegError, OSError):
        return None
    finally:
        target.unlink(missing_ok=True)
    remove_unless_committed([key])
    delete_once_committed([original.key])
    original.key, original.size = key, size
    entry.sha256, entry.file_size = digest, size
    return True


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _erase(entry: Entry, now: datetime) -> None:
    entry.entrant_name = entry.email = entry.phone = ""
    # The schema requires a guardian for an under-14 entry (guardian_for_under14): "" there.
    entry.guardian_name = entry.guardian_phone = "" if entry.under14 else None
    entry.original_filename = ""
    entry.personal_data_purged_at = now
