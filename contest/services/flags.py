"""Eligibility flags computed at submission: near-duplicates, capture time, resolution, camera,
and the original's provenance (declared AI, an invalid C2PA manifest, unreadable, screenshot)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.models import Contest, Entry, Flag

KINDS = ("near-duplicate", "capture-time", "low-resolution", "no-camera-data")
# From `Entry.provenance` (media/provenance.py); named with the codes entries.csv promises.
PROVENANCE_KINDS = ("ai_declared", "c2pa_invalid", "provenance_unreadable", "screenshot")
# What a judge may flag to the organisers (`services/remarks.py`), beside the computed kinds.
JUDGE_KINDS = ("possible-ai", "not-at-fair", "no-consent")
KIND_LABELS = {
    "near-duplicate": _l("비슷한 작품"),
    "capture-time": _l("촬영 시각"),
    "low-resolution": _l("낮은 해상도"),
    "no-camera-data": _l("카메라 정보 없음"),
    "possible-ai": _l("심사위원: AI 생성 이미지 의심"),
    "not-at-fair": _l("심사위원: 행사장에서 찍지 않은 듯함"),
    "no-consent": _l("심사위원: 동의하지 않았을 수 있는 인물"),
    "ai_declared": _l("AI 생성 표시"),
    "c2pa_invalid": _l("C2PA 서명 무효 또는 변경됨"),
    "provenance_unreadable": _l("출처 정보를 읽지 못함"),
    "screenshot": _l("화면 캡처 또는 재게시 의심"),
}
# C2PA validation states (media/provenance.validation_state) that raise c2pa_invalid; an
# "untrusted" signer (no trust list is configured) is shown on the entry's page, not flagged.
C2PA_INVALID_STATES = {
    "signature_invalid": "서명이 맞지 않습니다",
    "content_changed": "서명한 뒤 내용이 바뀌었습니다",
    "invalid": "매니페스트가 유효하지 않습니다",
}

# Only the closest few near-duplicates are flagged: a generic picture must not flood the list.
NEAR_DUPLICATES_KEPT = 5

# A flag's detail is written once, at submission, and stored (Flag.detail): it stays in Korean,
# the working language of the organisers, whatever the entrant's language. Only the kind's
# label above is translated when shown.
NO_CAPTURE_TIME = "촬영 시각 정보가 없습니다: 행사장에서 찍었는지 확인"


def flag_new_entry(entry: Entry, earlier: NearScan | None = None) -> list[Flag]:
    """Add the flags a just-flushed entry deserves (the caller commits); never rejects it.

    `earlier`: the near-duplicate scan made before the write lock (see `scan_near_duplicates`).
    """
    found = (
        near_duplicate_flags(entry, earlier)
        + eligibility_flags(entry, entry.contest)
        + provenance_flags(entry)
    )
    db.session.add_all(found)
    db.session.flush()
    return found


@dataclass(frozen=True)
class NearScan:
    """The entries of a contest whose pHash is near a given one, as far as one scan read."""

    near: list[tuple[int, int]]  # (distance, entry id)
    read_upto: int  # the highest entry id the scan saw (0: none)


def scan_near_duplicates(
    contest_id: int, phash: str, after_id: int = 0, before_id: int | None = None
) -> NearScan:
    """Compare a pHash with every entry of the contest with an id above `after_id` (and below
    `before_id`: the new entry's own, not yet committed, row stays out of the shared copy).

    The comparison runs over this process's copy of the contest's hashes (`_KnownHashes`),
    topped up with the entries committed since it last looked; the few near ones are then read
    again, so a withdrawn or purged entry is never flagged. At 100 000 entries reading and
    parsing every hash for each upload took ~0.27 s; the popcounts alone take ~20 ms.
    `accept` runs the full scan before taking the write lock and only the entries committed
    since inside it, so writers on many servers do not queue behind it. Entry ids are handed
    out inside the write lock, so the entries committed after a scan are exactly those above
    the highest id it saw. (SQLite may reuse the id of an entry withdrawn meanwhile; the worst
    that costs is one advisory flag.)
    """
    limit = current_app.config["NEAR_DUPLICATE_DISTANCE"]
    ids, hashes = _known_hashes().of(contest_id, before_id)
    mine = int(phash, 16)
    close = {
        entry_id
        for entry_id, other in zip(ids, hashes, strict=True)
        if entry_id > after_id and (mine ^ other).bit_count() <= limit
    }
    near = []
    if close:
        current = select(Entry.id, Entry.phash).where(
            Entry.id.in_(close), Entry.contest_id == contest_id, Entry.phash.is_not(None)
        )
        for entry_id, other in db.session.execute(current):
            if (d := (mine ^ int(other, 16)).bit_count()) <= limit:
                near.append((d, entry_id))
    return NearScan(near, max(after_id, ids[-1] if ids else 0))


class _KnownHashes:
    """Each contest's entry pHashes as integers, in id order, kept by one app in one process.

    Entries only ever join at the end (ids grow), so a top-up reads just the rows above the
    highest id held; rows withdrawn or purged since stay here, which is why the scan reads its
    few near matches again before trusting them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contests: dict[int, tuple[list[int], list[int]]] = {}

    def of(self, contest_id: int, before_id: int | None = None) -> tuple[list[int], list[int]]:
        """The ids and hashes of the contest's entries committed so far (below `before_id`)."""
        with self._lock:
            ids, hashes = self._contests.setdefault(contest_id, ([], []))
            newer = select(Entry.id, Entry.phash).where(
                Entry.contest_id == contest_id,
                Entry.phash.is_not(None),
                Entry.id > (ids[-1] if ids else 0),
            )
            if before_id is not None:
                newer = newer.where(Entry.id < before_id)
            for entry_id, phash in db.session.execute(newer.order_by(Entry.id)):
                ids.append(entry_id)
                hashes.append(int(phash, 16))
            # Copies of the list heads: other threads may append while the caller compares.
            return ids[:], hashes[:]


def _known_hashes() -> _KnownHashes:
    return current_app.extensions.setdefault("contest.known_hashes", _KnownHashes())


def near_duplicate_flags(entry: Entry, earlier: NearScan | None = None) -> list[Flag]:
    """Flags on `entry` for the closest other entries of its contest whose pHash is near its own.

    With `earlier` (a scan made before this transaction), only the entries committed since are
    read. Only the new entry is flagged (pointing at the older one): the later submission is
    the one to explain, and the older entry's page lists it through `other_entry_id`.
    """
    if entry.phash is None:
        return []
    after = earlier.read_upto if earlier else 0
    since = scan_near_duplicates(entry.contest_id, entry.phash, after, before_id=entry.id)
    found = (earlier.near if earlier else []) + since.near
    near = sorted((d, other_id) for d, other_id in found if other_id != entry.id)
    return [
        Flag(
            entry_id=entry.id,
            kind="near-duplicate",
            other_entry_id=other_id,
            detail=f"작품 #{other_id}와 거의 같은 그림입니다 (지각 해시 거리 {d}/64).",
        )
        for d, other_id in near[:NEAR_DUPLICATES_KEPT]
    ]


def eligibility_flags(entry: Entry, contest: Contest) -> list[Flag]:
    """Flags from the entry's own metadata: capture time, resolution, camera make and model."""
    config = current_app.config
    found: list[tuple[str, str]] = []
    time_problem = capture_time_problem(entry, contest)
    if time_problem:
        found.append(("capture-time", time_problem))
    if entry.is_video:
        minimum = config["FLAG_MIN_VIDEO_SHORT_SIDE"]
        short = min(entry.width, entry.height)
        if short < minimum:
            found.append(
                ("low-resolution", f"영상 해상도 {entry.width}×{entry.height}: {minimum}p 미만")
            )
    else:
        minimum = config["FLAG_MIN_LONG_SIDE"]
        long = max(entry.width, entry.height)
        if long < minimum:
            found.append(
                (
                    "low-resolution",
                    f"긴 변 {long}픽셀: {minimum}픽셀 미만 ({entry.width}×{entry.height})",
                )
            )
        if not (entry.camera_make or entry.camera_model):
            found.append(
                (
                    "no-camera-data",
                    "EXIF에 카메라 제조사·모델이 없습니다: 화면 캡처나 내려받은 사진인지 확인",
                )
            )
    return [Flag(entry_id=entry.id, kind=kind, detail=detail) for kind, detail in found]


def provenance_flags(entry: Entry) -> list[Flag]:
    """Flags from what the original says of its origin (`Entry.provenance`); advisory only."""
    found: list[tuple[str, str]] = []
    summary = entry.provenance or {}
    manifest = summary.get("c2pa") or {}
    declared = list(summary.get("ai_markers", []))
    if manifest.get("ai"):
        declared.insert(0, f"C2PA digitalSourceType: {manifest['ai']}")
    if declared:
        found.append(("ai_declared", "AI 생성으로 표시됨: " + "; ".join(declared)))
    state = manifest.get("state")
    if state in C2PA_INVALID_STATES:
        codes = ", ".join(manifest.get("codes", []))
        found.append(("c2pa_invalid", f"C2PA: {C2PA_INVALID_STATES[state]} ({codes})"))
    if summary.get("unreadable"):
        found.append(
            ("provenance_unreadable", f"출처 정보를 읽지 못했습니다: {summary['unreadable']}")
        )
    if summary.get("screenshot"):
        found.append(("screenshot", summary["screenshot"]))
    return [Flag(entry_id=entry.id, kind=kind, detail=detail) for kind, detail in found]


def capture_time_problem(entry: Entry, contest: Contest) -> str | None:
    """Why the entry's capture time does not show it was taken during the fair, or None.

    A photo's EXIF time is camera-local with no zone: its date is compared as it reads. A
    video's creation time is UTC (stored naive): its date is taken in Seoul.
    """
    if entry.captured_at is None:
        return NO_CAPTURE_TIME
    if entry.is_video:
        local = entry.captured_at.replace(tzinfo=UTC).astimezone(SEOUL)
        shown = f"{local:%Y-%m-%d %H:%M} (한국 시간)"
    else:
        local = entry.captured_at
        shown = f"{local:%Y-%m-%d %H:%M} (카메라 시각)"
    if _within(local.date(), contest.fair_starts_on, contest.fair_ends_on):
        return None
    return (
        f"촬영 시각 {shown}이 행사 기간"
        f" ({contest.fair_starts_on:%Y-%m-%d} – {contest.fair_ends_on:%Y-%m-%d}) 밖입니다."
    )


def _within(day: date, first: date, last: date) -> bool:
    return first <= day <= last


def local_capture_time(entry: Entry) -> datetime | None:
    """The capture time as people read it: camera-local for photos, Seoul time for videos."""
    if entry.captured_at is None or not entry.is_video:
        return entry.captured_at
    return entry.captured_at.replace(tzinfo=UTC).astimezone(SEOUL).replace(tzinfo=None)
