"""A judge's remarks on an entry: a private note (only that judge ever sees it) and a flag to
the organisers with a reason, which lands in the admin's flag list beside the computed ones.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Entry, Flag, JudgeNote, User, utcnow
from contest.services.audit import audit
from contest.services.flags import JUDGE_KINDS

NOTE_MAX = 2000  # characters of a private note
FLAG_DETAIL_MAX = 500  # characters a judge may add to a flag


class RemarkRefused(Refusal):
    """A note or flag that cannot be kept as typed."""

    status = 400


def note_of(entry_id: int, judge_id: int) -> str:
    """This judge's private note on the entry ("" when none)."""
    note = db.session.get(JudgeNote, (entry_id, judge_id))
    return note.text if note is not None else ""


def save_note(entry: Entry, judge: User, text: str) -> JudgeNote | None:
    """Keep, replace or (when blank) remove the judge's note; the caller commits.

    Not audited: the audit log is read by the admins, and the note is the judge's alone.
    """
    text = text.strip()
    if len(text) > NOTE_MAX:
        raise RemarkRefused(_l("메모는 %(max)s자 이하로 써 주세요.", max=NOTE_MAX), field="note")
    note = db.session.get(JudgeNote, (entry.id, judge.id))
    if not text:
        if note is not None:
            db.session.delete(note)
            db.session.flush()
        return None
    if note is None:
        note = JudgeNote(entry_id=entry.id, judge_id=judge.id)
        db.session.add(note)
    note.text, note.updated_at = text, utcnow()
    db.session.flush()
    return note


def flag_entry(entry: Entry, judge: User, kind: str, detail: str = "") -> Flag:
    """Flag the entry to the organisers with a reason (JUDGE_KINDS); audited, the caller commits.

    One open flag per judge, entry and reason: flagging again returns the one already open.
    The detail is stored as typed, prefixed with who raised it (the organisers' list shows it).
    """
    if kind not in JUDGE_KINDS:
        raise RemarkRefused(_l("알리는 이유를 골라 주세요."), field="kind")
    detail = detail.strip()
    if len(detail) > FLAG_DETAIL_MAX:
        raise RemarkRefused(
            _l("설명은 %(max)s자 이하로 써 주세요.", max=FLAG_DETAIL_MAX), field="detail"
        )
    open_flag = db.session.scalar(
        select(Flag).where(
            Flag.entry_id == entry.id,
            Flag.kind == kind,
            Flag.flagged_by_id == judge.id,
            Flag.dismissed_at.is_(None),
        )
    )
    if open_flag is not None:
        return open_flag
    who = judge.display_name or judge.username
    flag = Flag(
        entry_id=entry.id,
        kind=kind,
        flagged_by_id=judge.id,
        # Stored in Korean, as the computed flags' details are: the organisers' record.
        detail=f"심사위원 {who}: {detail}" if detail else f"심사위원 {who}",
    )
    db.session.add(flag)
    db.session.flush()
    audit(judge, "judge-flag", f"entry:{entry.id}", None, {"kind": kind, "flag": flag.id})
    return flag


def kinds_flagged(entry_id: int, judge_id: int) -> list[str]:
    """The reasons this judge has open flags for on the entry."""
    return list(
        db.session.scalars(
            select(Flag.kind).where(
                Flag.entry_id == entry_id,
                Flag.flagged_by_id == judge_id,
                Flag.dismissed_at.is_(None),
            )
        )
    )
