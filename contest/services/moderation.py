"""Moderation by exception: finding entries, rejecting and restoring them, dismissing flags."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from contest.core.extensions import db
from contest.core.phones import phone_fragment
from contest.core.refusal import Refusal
from contest.models import Asset, Contest, Entry, Flag, User, utcnow
from contest.services import display, entries, receipts
from contest.services.audit import audit

REASON_MAX = 500
_PUBLISHED = _l(
    "발표된 수상작입니다. 반려하거나 취소하려면 먼저 수상작 페이지에서 발표를 취소해 주세요."
)


class ModerationError(Refusal):
    """A refused moderation step."""


@dataclass(frozen=True)
class EntryFilter:
    """What the admin's entry list is narrowed to; empty values mean "all"."""

    status: str = ""
    category_id: int | None = None
    flag: str = ""  # a flag kind, "any", or "" for no condition
    q: str = ""


def entries_query(contest: Contest, wanted: EntryFilter) -> Select:
    """The contest's entries matching the filter, newest first, with their files loaded."""
    query = (
        select(Entry)
        .where(Entry.contest_id == contest.id)
        .options(selectinload(Entry.assets), selectinload(Entry.category))
        .order_by(Entry.created_at.desc(), Entry.id.desc())
    )
    if wanted.status:
        query = query.where(Entry.status == wanted.status)
    if wanted.category_id is not None:
        query = query.where(Entry.category_id == wanted.category_id)
    if wanted.flag:
        flagged = select(Flag.entry_id).where(Flag.dismissed_at.is_(None))
        if wanted.flag != "any":
            flagged = flagged.where(Flag.kind == wanted.flag)
        query = query.where(Entry.id.in_(flagged))
    if wanted.q:
        text = wanted.q
        # In any case (icontains: PostgreSQL's LIKE, unlike SQLite's, minds the case).
        matches = [
            Entry.title.icontains(text, autoescape=True),
            Entry.description.icontains(text, autoescape=True),
            Entry.entrant_name.icontains(text, autoescape=True),
            Entry.email.icontains(text, autoescape=True),
        ]
        code = receipts.clean(text)
        if len(code) >= 4 and all(ch in receipts.ALPHABET for ch in code):
            # Typed as read aloud ("abcd-efgh"): a part of the code is enough.
            matches.append(Entry.receipt.contains(code, autoescape=True))
        phone = phone_fragment(text)
        if phone is not None:
            # Phones are stored in E.164: the typed number is found in any spelling.
            matches.append(Entry.phone.contains(phone, autoescape=True))
            matches.append(Entry.guardian_phone.contains(phone, autoescape=True))
        query = query.where(or_(*matches))
    return query


def thumbnail_keys(entry_ids: list[int]) -> dict[int, str]:
    """The storage keys of these entries' thumbnails, in one query, by entry id."""
    if not entry_ids:
        return {}
    query = select(Asset.entry_id, Asset.key).where(
        Asset.entry_id.in_(entry_ids), Asset.role == "thumbnail"
    )
    return {entry_id: key for entry_id, key in db.session.execute(query)}


def open_flags_by_entry(entry_ids: list[int]) -> dict[int, list[Flag]]:
    """The undismissed flags of these entries, in one query, by entry id."""
    found: dict[int, list[Flag]] = {entry_id: [] for entry_id in entry_ids}
    if not entry_ids:
        return found
    query = (
        select(Flag)
        .where(Flag.entry_id.in_(entry_ids), Flag.dismissed_at.is_(None))
        .order_by(Flag.id)
    )
    for flag in db.session.scalars(query):
        found[flag.entry_id].append(flag)
    return found


def flags_of(entry: Entry) -> list[Flag]:
    """Every flag of an entry, dismissed ones included, open ones first."""
    query = (
        select(Flag)
        .where(Flag.entry_id == entry.id)
        .options(selectinload(Flag.other_entry))
        .order_by(Flag.dismissed_at.is_not(None), Flag.id)
    )
    return list(db.session.scalars(query))


def flags_pointing_at(entry: Entry) -> list[Flag]:
    """Near-duplicate flags of later entries that name this one."""
    query = (
        select(Flag)
        .where(Flag.other_entry_id == entry.id)
        .options(selectinload(Flag.entry))
        .order_by(Flag.id)
    )
    return list(db.session.scalars(query))


def reject(entry: Entry, reason: str, actor: User) -> None:
    """Take an entry out of judging, with the reason its entrant will read (the caller commits)."""
    reason = _checked_reason(reason, _l("반려 사유를 입력해 주세요."))
    if entry.status == "rejected":
        raise ModerationError(_l("이미 반려된 작품입니다."))
    if entries.is_published_winner(entry):
        raise ModerationError(_PUBLISHED)
    audit(
        actor,
        "reject-entry",
        f"entry:{entry.id}",
        {"status": entry.status},
        {"status": "rejected", "reason": reason},
    )
    display.announce_removal(entry)
    entry.status = "rejected"
    entry.rejected_reason = reason
    entry.rejected_at = utcnow()
    db.session.flush()


def withdraw(entry: Entry, reason: str, actor: User) -> None:
    """Withdraw an entry for its entrant (who asked the office), with a reason (the caller commits).

    A winner of published results is refused: unpublish first, so the public page never loses
    a winner silently. The audit keeps the receipt and title, nothing of the entrant.
    """
    reason = _checked_reason(reason, _l("취소 사유를 입력해 주세요."))
    if entries.is_published_winner(entry):
        raise ModerationError(_PUBLISHED)
    audit(
        actor,
        "withdraw-entry",
        f"entry:{entry.id}",
        {"receipt": entry.receipt, "title": entry.title, "status": entry.status},
        {"withdrawn": True, "reason": reason},
    )
    entries.withdraw(entry)


def restore(entry: Entry, actor: User) -> None:
    """Put a rejected entry back into judging and clear its reason (the caller commits)."""
    if entry.status != "rejected":
        raise ModerationError(_l("반려된 작품이 아닙니다."))
    audit(
        actor,
        "restore-entry",
        f"entry:{entry.id}",
        {"status": entry.status, "reason": entry.rejected_reason},
        {"status": "submitted"},
    )
    entry.status = "submitted"
    entry.rejected_reason = None
    entry.rejected_at = None
    db.session.flush()
    display.announce_return(entry)


def dismiss_flag(flag: Flag, reason: str, actor: User) -> None:
    """Record that an admin looked at a flag and found it harmless (the caller commits)."""
    reason = _checked_reason(reason, _l("확인 사유를 입력해 주세요."))
    if flag.dismissed_at is not None:
        raise ModerationError(_l("이미 확인 처리된 표시입니다."))
    # Filed under the entry, so the audit page's "entry:12" shows everything done to it.
    audit(
        actor,
        "dismiss-flag",
        f"entry:{flag.entry_id}",
        {"flag": flag.id, "kind": flag.kind, "dismissed": False},
        {"flag": flag.id, "dismissed": True, "reason": reason},
    )
    flag.dismissed_at = utcnow()
    flag.dismissed_by_id = actor.id
    flag.dismiss_reason = reason
    db.session.flush()


def _checked_reason(reason: str | None, missing: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError(missing, 400)
    if len(reason) > REASON_MAX:
        raise ModerationError(_l("사유는 %(limit)s자 이내로 써 주세요.", limit=REASON_MAX), 400)
    return reason
