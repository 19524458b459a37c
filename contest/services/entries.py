"""Entries: accepting a visitor's photo or video and withdrawing it.

The order of work keeps the database's write lock short and loses nothing: cheap checks first,
then the media work (hashing, decoding, derivatives) with no transaction open, then the files are
renamed into place, and only then is the write lock taken to check the limits once more and add
the row. If that transaction does not commit, the files go (see `file_transactions`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from contest.core.database import begin_write
from contest.core.extensions import db
from contest.core.file_transactions import delete_once_committed, remove_unless_committed
from contest.core.formatting import file_size
from contest.core.refusal import Refusal
from contest.media import Rejected, perceptual_hash, provenance
from contest.media.fingerprint import Fingerprint, fingerprint, sha256_of
from contest.media.kinds import sniff_kind
from contest.media.photo import Photo, process_photo
from contest.media.photo_worker import limits_from
from contest.media.video import Video, inspect_video
from contest.models import Asset, Award, Contest, Entry, WithdrawnReceipt
from contest.services import display, flags, receipts
from contest.services.contests import entry_limit
from contest.storage import StorageUnavailable, get_storage

_UNAVAILABLE = _l(
    "작품을 저장할 곳에 지금 연결할 수 없어 응모가 접수되지 않았습니다."
    " 잠시 뒤 파일을 다시 골라 제출해 주세요."
)
_DUPLICATE = _l("이 사진은 이미 응모된 작품입니다. 다른 사진을 선택해 주세요.")
_PUBLISHED_WINNER = _l(
    "수상작으로 발표된 작품이라 응모를 취소할 수 없습니다."
    " 취소가 꼭 필요하면 행정안전부 · 정부3.0 체험마당 운영사무국에 문의해 주세요."
)


class Refused(Refusal):
    """An entry the contest will not take now: closed window, over the limit, a duplicate..."""


@dataclass(frozen=True)
class Submission:
    """What a visitor sent, as plain values the entry form has already validated.

    `upload_path` is the spooled file on local disk; `filename` is the name the visitor's
    device gave it, kept only as text to show. Phone numbers are in E.164.
    """

    title: str
    description: str
    name: str
    phone: str
    email: str
    under14: bool
    guardian_name: str | None
    guardian_phone: str | None
    consent_publish: bool
    upload_path: Path
    filename: str | None
    language: str | None = None  # the form's language: the entrant's e-mails are written in it
    declared: bool = False  # the entrant declared the work their own, not made with AI tools
    # The content checks' result from before submit (a finished upload's background check):
    # used only if `upload_path` still has exactly the bytes it was made from.
    prepared: Content | None = None


@dataclass(frozen=True)
class Content:
    """What the content checks found a file to be: its kind, the media (facts and
    derivatives), and the SHA-256 and size of the bytes checked."""

    kind: str
    media: Photo | Video
    sha256: str
    size: int


def accept(sent: Submission, contest: Contest, now: datetime) -> Entry:
    """Check, store and record a validated entry; raises a `Refusal` and leaves nothing behind."""
    (entry,) = _accept_all([sent], contest, now)
    return entry


class RefusedWork(Refusal):
    """One work of several sent together was refused, so none of them was taken.

    `index` is its place among the works sent (0-based); `cause` is the refusal itself, whose
    message, status and field this one carries.
    """

    def __init__(self, index: int, cause: Refusal):
        super().__init__(cause.message, cause.status, cause.field)
        self.index = index
        self.cause = cause


def accept_all(sent: list[Submission], contest: Contest, now: datetime) -> list[Entry]:
    """Several works of one entrant, all or none: every entry added, or `RefusedWork` for the
    first work refused and nothing left behind (the files not refused stay where they were).

    The entrant's details are the first submission's; each work counts against the limit.
    """
    try:
        return _accept_all(sent, contest, now)
    except _Refused as why:
        raise RefusedWork(why.index, why.cause) from why.cause


class _Refused(Exception):
    def __init__(self, index: int, cause: Refusal):
        super().__init__(str(cause))
        self.index, self.cause = index, cause


@dataclass
class _Checked:
    sent: Submission
    media: Photo | Video
    sha256: str
    size: int
    category: object
    phash: object
    earlier: object
    provenance: dict


def _accept_all(sent: list[Submission], contest: Contest, now: datetime) -> list[Entry]:
    single = len(sent) == 1

    def blame(index: int, error: Refusal):
        # One work alone keeps its refusal as it always was.
        return error if single else _Refused(index, error)

    limit = entry_limit(contest)
    try:
        _check_window(contest, now)
    except Refusal as error:
        raise blame(0, error) from None
    _check_quota_for(contest, sent, limit, blame)
    # Every file is checked before any is stored: storing moves a finished upload's bytes, and
    # the works not refused stay where they are for the visitor's next try.
    checked: list[_Checked] = []
    seen: set[str] = set()
    for index, one in enumerate(sent):
        try:
            checked.append(_check_file(contest, one))
            if checked[-1].sha256 in seen:
                raise Refused(_DUPLICATE, 409, field="media")
            seen.add(checked[-1].sha256)
        except Refusal as error:
            raise blame(index, error) from None
    stored: list[list[Asset]] = []
    try:
        for index, one in enumerate(checked):
            try:
                stored.append(_store(one.sent.upload_path, one.media))
            except StorageUnavailable:
                current_app.logger.exception("could not store an entry's files")
                raise blame(index, Refused(_UNAVAILABLE, 503)) from None
    except BaseException:
        for assets in stored:
            _remove([a.key for a in assets])
        raise
    keys = [a.key for assets in stored for a in assets]
    added: list[Entry] = []
    try:
        begin_write()  # from here to the commit, this request is the only writer
        try:
            _check_window(contest, now)
        except Refusal as error:
            raise blame(0, error) from None
        _check_quota_for(contest, sent, limit, blame)
        for index, (one, assets) in enumerate(zip(checked, stored, strict=True)):
            try:
                _check_duplicate(contest, one.sha256)
            except Refusal as error:
                raise blame(index, error) from None
            entry = _new_entry(contest, one, assets, now)
            db.session.add(entry)
            db.session.flush()
            display.on_arrival(entry, current_app.config["WALL_AUTO_APPROVE"], now)
            # Inside the lock, so near-duplicates compare against every entry committed before.
            flags.flag_new_entry(entry, one.earlier)
            added.append(entry)
    except BaseException as error:
        db.session.rollback()
        _remove(keys)
        if isinstance(error, IntegrityError):
            # A database with concurrent writers (not SQLite) can race past the check above:
            # say so if that is what happened.
            for index, one in enumerate(checked):
                try:
                    _check_duplicate(contest, one.sha256)
                except Refusal as refusal:
                    raise blame(index, refusal) from None
        raise
    remove_unless_committed(keys)
    return added


def check_content(path: Path) -> Content:
    """The content checks of one file (kind, size, decoding in child processes, derivatives,
    polyglot scan), with no transaction open: a `Rejected`, or what the file is.

    Runs at submit, or earlier in the background once a resumable upload is complete
    (`upload_checks`); either way the same checks.
    """
    config = current_app.config
    kind = sniff_kind(path)
    _check_size(kind, path.stat().st_size, config)
    # The hash and byte scan run on a thread of this process while a child decodes: the two
    # cores work at once (the thread hashes while this one waits on the child's pipe), which
    # takes their time off the visitor's wait: 6 ms for a 4 MB photo, 60 ms for a 26 MB PNG.
    # The same thread then flushes the file to disk for storing it (on local disk, 5 ms for
    # 4 MB, 28 ms for 26 MB), which storing would otherwise do after the decoding.
    storage = get_storage()

    def read_through() -> Fingerprint:
        facts = fingerprint(path)
        storage.ready_to_adopt(path)
        return facts

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fingerprint") as hashing:
        hashed = hashing.submit(read_through)
        # The decoding's verdict comes first: it names what a non-image is ("not a supported
        # format") before the byte scan in `fingerprint` could call it a polyglot.
        media = _inspect(kind, path, config)
        facts = hashed.result()
    return Content(kind, media, facts.sha256, facts.size)


def _prepared_content(sent: Submission) -> Content | None:
    """The background check's result, if it was made from the very bytes sent now.

    The hash is read again (a fraction of what decoding costs): bytes that changed since, or
    a copy fetched again that differs, fall back to checking inline. The size limit is
    checked again too, as the setting may have changed meanwhile.
    """
    prepared = sent.prepared
    if prepared is None:
        return None
    path = sent.upload_path
    if path.stat().st_size != prepared.size or sha256_of(path) != prepared.sha256:
        current_app.logger.warning("a checked upload's bytes changed: checking them again")
        return None
    _check_size(prepared.kind, prepared.size, current_app.config)
    return prepared


def _check_file(contest: Contest, sent: Submission) -> _Checked:
    """The media work of one file, with no transaction open: refused, or ready to store."""
    content = _prepared_content(sent) or check_content(sent.upload_path)
    media, kind = content.media, content.kind
    _check_duplicate(contest, content.sha256)
    category = contest.category_for(kind)
    if category is None:
        raise Refused(_("지금은 이 부문의 응모를 받지 않습니다."), 403)
    phash = perceptual_hash.phash_of(media.thumbnail.data)  # ~1 ms, so outside the write lock
    # The contest-wide comparison too: inside the lock only the entries committed since remain.
    earlier = flags.scan_near_duplicates(contest.id, phash)
    origin = _provenance(sent.upload_path, media, current_app.config)
    return _Checked(sent, media, content.sha256, content.size, category, phash, earlier, origin)


def _provenance(path: Path, media: Photo | Video, config) -> dict:
    """What the original says about its origin, read before any copy drops its metadata."""
    limits = limits_from(config, current_app.instance_path)
    limits = replace(limits, timeout=float(config["PROVENANCE_TIMEOUT"]))
    anchors = config["C2PA_TRUST_ANCHORS"]
    trusted = Path(anchors).read_text(encoding="ascii") if anchors else None
    return provenance.read(
        path, media.content_type, limits, config["PROVENANCE_MEMORY_BYTES"], trusted
    )


def _new_entry(contest: Contest, one: _Checked, assets: list[Asset], now: datetime) -> Entry:
    sent = one.sent
    return Entry(
        contest=contest,
        category=one.category,
        receipt=receipts.new_code(),
        title=sent.title,
        description=sent.description or "",
        created_at=now,
        entrant_name=sent.name,
        email=sent.email,
        phone=sent.phone,
        under14=sent.under14,
        guardian_name=sent.guardian_name if sent.under14 else None,
        guardian_phone=sent.guardian_phone if sent.under14 else None,
        consent_version=current_app.config["CONSENT_NOTICE_VERSION"],
        consented_at=now,
        consent_publish=sent.consent_publish,
        language=sent.language,
        guardian_consented_at=now if sent.under14 else None,
        declared_at=now if sent.declared else None,
        provenance=one.provenance,
        original_filename=_display_name(sent.filename),
        file_size=one.size,
        sha256=one.sha256,
        phash=one.phash,
        assets=assets,
        **_media_columns(one.media),
    )


def withdraw(entry: Entry) -> None:
    """Delete an entry and, once that has committed, its files (the entrant withdrew consent).

    Published results are final: a winner of published awards is refused (409) and told whom
    to ask; the organisers unpublish first if it must go. The code is kept only as a keyed
    hash, so it answers "withdrawn" from now on rather than "not found".
    """
    if is_published_winner(entry):
        raise Refused(_PUBLISHED_WINNER, 409)
    keys = [asset.key for asset in entry.assets]
    display.announce_removal(entry)  # before the row, and what says it was shown, is gone
    db.session.add(WithdrawnReceipt(digest=_withdrawn_digest(entry.receipt)))
    db.session.delete(entry)
    db.session.flush()
    delete_once_committed(keys)


def is_published_winner(entry: Entry) -> bool:
    """Whether the entry holds an award of its contest's published results."""
    if entry.contest.results_published_at is None:
        return False
    return db.session.scalar(select(Award.id).where(Award.entry_id == entry.id)) is not None


def was_withdrawn(typed: str) -> bool:
    """Whether this receipt code belonged to an entry that was withdrawn."""
    code = receipts.clean(typed)
    if not receipts.is_well_formed(code):
        return False
    return db.session.get(WithdrawnReceipt, _withdrawn_digest(code)) is not None


def _withdrawn_digest(code: str) -> str:
    return receipts.withdrawn_digest(code, current_app.config["SECRET_KEY"])


def find_by_receipt(typed: str) -> Entry | None:
    """The entry with this receipt code, however the visitor typed it."""
    code = receipts.clean(typed)
    if not receipts.is_well_formed(code):
        return None
    return db.session.scalar(select(Entry).where(Entry.receipt == code))


def by_contact(contest: Contest, contact: str) -> list[Entry]:
    """The contest's entries made with this e-mail address (any case) or E.164 phone number,
    oldest first; none for an empty contact (purged entries keep "" in both)."""
    if not contact:
        return []
    if "@" in contact:
        match = Entry.email.in_({contact.lower(), contact.casefold()})  # stored lower-cased
    else:
        match = Entry.phone == contact
    return list(
        db.session.scalars(
            select(Entry)
            .where(Entry.contest_id == contest.id, match, Entry.personal_data_purged_at.is_(None))
            .order_by(Entry.created_at, Entry.id)
        )
    )


def entries_of(contest: Contest, phone: str, email: str) -> int:
    """How many entries this person (same phone or same e-mail) has in the contest."""
    return db.session.scalar(
        select(func.count(Entry.id)).where(
            Entry.contest_id == contest.id, or_(Entry.phone == phone, Entry.email == email)
        )
    )


def _check_window(contest: Contest, now: datetime) -> None:
    if now < contest.opens_at:
        raise Refused(_("아직 응모 기간이 아닙니다."), 403)
    if now >= contest.closes_at:
        raise Refused(_("응모 기간이 끝났습니다. 참여해 주셔서 감사합니다."), 403)


def _check_size(kind: str, size: int, config) -> None:
    limit = config["VIDEO_MAX_BYTES"] if kind == "video" else config["PHOTO_MAX_BYTES"]
    if size > limit:
        if kind == "video":
            message = _l(
                "파일이 너무 큽니다: 영상은 %(limit)s까지 올릴 수 있습니다 (올린 파일 %(size)s).",
                limit=file_size(limit),
                size=file_size(size),
            )
        else:
            message = _l(
                "파일이 너무 큽니다: 사진은 %(limit)s까지 올릴 수 있습니다 (올린 파일 %(size)s).",
                limit=file_size(limit),
                size=file_size(size),
            )
        raise Rejected(message, 413)


def _inspect(kind: str, path: Path, config) -> Photo | Video:
    if kind == "video":
        return inspect_video(
            path,
            max_seconds=config["VIDEO_MAX_SECONDS"],
            min_seconds=config["VIDEO_MIN_SECONDS"],
            max_bytes=config["VIDEO_MAX_BYTES"],
            timeout=config["VIDEO_PROBE_TIMEOUT"],
        )
    return process_photo(
        path,
        min_long_side=config["PHOTO_MIN_LONG_SIDE"],
        max_pixels=config["PHOTO_MAX_PIXELS"],
        limits=limits_from(config, current_app.instance_path),
    )


def _media_columns(media: Photo | Video) -> dict:
    """What the entry row records of its file (never a location)."""
    if isinstance(media, Photo):
        return {
            "media_format": media.format,
            "width": media.width,
            "height": media.height,
            "captured_at": media.captured_at,  # camera-local, as EXIF has it
            "camera_make": media.camera_make,
            "camera_model": media.camera_model,
        }
    captured = media.captured_at
    return {
        "media_format": media.container,
        "width": media.width,
        "height": media.height,
        # A container's creation time is a moment in UTC: stored naive like EXIF times.
        "captured_at": captured.astimezone(UTC).replace(tzinfo=None) if captured else None,
        "video_codec": media.video_codec,
        "audio_codec": media.audio_codec,
        "duration": media.duration,
        "frame_rate": media.frame_rate,
        "rotation": media.rotation,
        "playback_status": "pending",
    }


def _check_quota_for(contest: Contest, sent: list[Submission], limit: int, blame) -> None:
    """Refuse the first work past the entrant's limit, counting the works sent before it."""
    had = entries_of(contest, sent[0].phone, sent[0].email)
    if had + len(sent) <= limit:
        return
    index = max(limit - had, 0)
    if had >= limit:
        message = _(
            "한 사람당 %(limit)s개 작품까지 응모할 수 있습니다. 이미 %(limit)s개를 응모하셨습니다.",
            limit=limit,
        )
    else:
        message = _(
            "한 사람당 %(limit)s개 작품까지 응모할 수 있습니다."
            " 지금은 %(left)s개만 더 응모할 수 있으니 이 작품부터는 빼 주세요.",
            limit=limit,
            left=limit - had,
        )
    raise blame(index, Refused(message, 409))


def _check_duplicate(contest: Contest, sha256: str) -> None:
    same = select(Entry.id).where(Entry.contest_id == contest.id, Entry.sha256 == sha256)
    if db.session.scalar(same) is not None:
        raise Refused(_DUPLICATE, 409, field="media")


def _store(upload_path: Path, media: Photo | Video) -> list[Asset]:
    """Put the original and its derivatives in place; on any failure remove what was written."""
    storage = get_storage()
    original = Asset(
        role="original",
        key=storage.new_key("originals", media.extension),
        content_type=media.content_type,
        size=upload_path.stat().st_size,
        width=media.width,
        height=media.height,
    )
    # A photo's preview and a video's poster play the same part on every page.
    big = media.preview if isinstance(media, Photo) else media.poster
    derivatives = (("preview", big), ("thumbnail", media.thumbnail))
    derived = [
        Asset(
            role=role,
            key=storage.new_key("derived", d.extension),
            content_type=d.content_type,
            size=len(d.data),
            width=d.width,
            height=d.height,
        )
        for role, d in derivatives
    ]
    written: list[str] = []
    try:
        storage.adopt(upload_path, original.key)
        written.append(original.key)
        for asset, (_, derivative) in zip(derived, derivatives, strict=True):
            storage.put(derivative.data, asset.key)
            written.append(asset.key)
    except BaseException:
        _remove(written)
        raise
    return [original, *derived]


def _remove(keys: list[str]) -> None:
    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except StorageUnavailable:  # an orphan for `doctor --repair`, once the store is back
            current_app.logger.warning("could not remove %s: storage unavailable", key)


def _display_name(filename: str | None) -> str:
    """The visitor's file name, kept only as text to show (escaped by the templates)."""
    return (filename or "").replace("\x00", "")[:255]
