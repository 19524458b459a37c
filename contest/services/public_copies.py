"""winners-public.zip: the winners' works for the press, as clean copies, never the originals.

Stored originals keep their bytes (a C2PA signature binds them, and the prize office's
winners.zip hands them over as sent), so what is published is made from them: photos as the
upright, sRGB, full-size JPEG without any metadata that judges zoom into (`photo.full_resolution`,
decoded in a capped child; the recorded zoom copy when there is one), videos as the playback
copy (H.264/AAC MP4, faststart), checked for tags and remuxed without them if it has any
(`media.clean_copy`). Neither kind carries EXIF, XMP, an ICC profile, GPS, maker notes or a
camera serial: the JPEG is converted to sRGB, so it needs no profile.

Only the works the public winners page shows are in it (`awards.public_winners`: the winner
agreed to publication, the entry is not rejected). File names say the category, the award and
the title, never a name, a receipt code or the file name the entrant sent. README.txt lists
every file and what was left out and why. The text is for the Korean press office and stays
in Korean, as the other export files do.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import av
from flask import current_app

from contest.core.formatting import SEOUL
from contest.media import Rejected
from contest.media.clean_copy import leftover_metadata, remux_clean
from contest.media.photo import full_resolution
from contest.media.photo_worker import limits_from
from contest.models import Contest
from contest.services import awards, zoom
from contest.services.exports import ZipSink
from contest.storage import get_storage

README = "README.txt"
_CHUNK = 1024 * 1024
# A title longer than this is cut in the file name (README.txt has it whole).
_TITLE_IN_NAME = 40


@dataclass(frozen=True)
class PublicWork:
    """One published work: where its clean copy comes from and what it is called."""

    number: int  # order in the archive, from 1
    category: str
    tier: str
    title: str
    is_video: bool
    source_key: str | None  # full-size copy, original (photo, to decode) or playback copy
    source_role: str | None  # "full", "original" or "playback"

    @property
    def file_name(self) -> str:
        """<nn>_<category>_<award>_<title>.<jpg|mp4>, safe inside a ZIP on any system."""
        parts = (self.category, self.tier, self.title[:_TITLE_IN_NAME])
        stem = "_".join([f"{self.number:02d}", *(_safe(p) for p in parts)])
        return stem + (".mp4" if self.is_video else ".jpg")


def public_works(contest: Contest) -> tuple[list[PublicWork], int]:
    """The works the winners page shows, in its order, and how many winners were left out."""
    works, withheld = [], 0
    for category, winners in awards.public_winners(contest):
        for winner in winners:
            entry = winner.entry
            if not winner.public or entry is None:
                withheld += 1
                continue
            if entry.is_video:
                asset = entry.asset("playback")
            else:
                asset = zoom.recorded_copy(entry) or entry.asset("original")
            works.append(
                PublicWork(
                    number=len(works) + 1,
                    category=category.name,
                    tier=winner.tier.name,
                    title=entry.title,
                    is_video=entry.is_video,
                    source_key=asset.key if asset else None,
                    source_role=asset.role if asset else None,
                )
            )
    return works, withheld


def public_zip(works: list[PublicWork], withheld: int) -> Iterator[bytes]:
    """The clean copies and README.txt, as a ZIP made while it is sent.

    One copy at a time: a photo's JPEG (made in memory when no zoom copy is recorded) or a
    file streamed in chunks; the archive never is whole in memory. A copy that cannot be made
    (its file missing, a decode refused, a playback copy not ready yet) is listed in
    README.txt instead of breaking the download. Entries are stored: JPEG and MP4 are
    compressed already.
    """
    storage = get_storage()
    limits = limits_from(current_app.config, current_app.instance_path)
    stamp = datetime.now(SEOUL).timetuple()[:6]

    def generate() -> Iterator[bytes]:
        sink = ZipSink()
        sent, failed = [], []
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
            for work in works:
                try:
                    with _clean_file(work, storage, limits) as path:
                        info = zipfile.ZipInfo(work.file_name, date_time=stamp)
                        info.file_size = path.stat().st_size  # lets ZipFile choose ZIP64
                        with open(path, "rb") as source, archive.open(info, "w") as target:
                            while chunk := source.read(_CHUNK):
                                target.write(chunk)
                                yield sink.take()
                    sent.append(work)
                except _NoCopy as why:
                    failed.append((work, str(why)))
                yield sink.take()
            text = readme(sent, failed, withheld)
            archive.writestr(zipfile.ZipInfo(README, date_time=stamp), text)
        yield sink.take()

    return (chunk for chunk in generate() if chunk)


def readme(sent: list[PublicWork], failed: list[tuple[PublicWork, str]], withheld: int) -> str:
    """The archive's note for the press office: what each file is, what is missing and why."""
    lines = [
        "수상작 공개용 사본",
        "",
        "사진은 바로 세운 sRGB JPEG, 영상은 H.264/AAC MP4입니다. 촬영 위치(GPS), 촬영 기기와"
        " 일련번호, 소유자 이름 등 메타데이터(EXIF, XMP, 제조사 정보)는 모두 지웠습니다.",
        "원본은 수상자 연락처와 함께 winners.zip으로 따로 받습니다.",
        "",
        "파일\t부문\t상\t제목",
    ]
    lines += [f"{w.file_name}\t{w.category}\t{w.tier}\t{w.title}" for w in sent]
    if failed:
        lines += ["", "사본을 만들지 못한 작품:"]
        lines += [f"{w.category}\t{w.tier}\t{w.title}\t({why})" for w, why in failed]
    if withheld:
        lines += ["", f"공개에 동의하지 않았거나 제외된 수상작 {withheld}점은 넣지 않았습니다."]
    return "\n".join(lines) + "\n"


class _NoCopy(Exception):
    """A work whose clean copy could not be made; the message says why, for README.txt."""


@contextmanager
def _clean_file(work: PublicWork, storage, limits) -> Iterator[Path]:
    """A local file holding the work's clean copy, removed afterwards when it was made here."""
    if work.source_key is None:
        reason = "재생용 사본이 아직 없음" if work.is_video else "원본 파일 없음"
        raise _NoCopy(reason)
    if not storage.exists(work.source_key):
        raise _NoCopy("저장된 파일 없음")
    made = storage.tmp / f"public-{work.number}-{id(work):x}{'.mp4' if work.is_video else '.jpg'}"
    with ExitStack() as stack:
        stack.callback(made.unlink, missing_ok=True)
        try:
            path = stack.enter_context(storage.local_copy(work.source_key))
            if work.source_role == "full":
                clean = path  # the zoom copy: made by full_resolution, nothing to strip
            elif work.is_video and not leftover_metadata(path):
                clean = path  # the playback copy, checked: nothing but pictures and sound
            elif work.is_video:
                remux_clean(path, made)
                clean = made
            else:
                made.write_bytes(full_resolution(path, limits).data)
                clean = made
        except (Rejected, av.FFmpegError, OSError) as why:
            raise _NoCopy("사본을 만들 수 없음") from why
        # Only making the copy is caught: an error while it is written into the archive
        # must break the download, not leave half an entry behind a README that hides it.
        yield clean


def _safe(part: str) -> str:
    """A name part with only letters (Hangul too), digits and - left: _ separates the parts."""
    return re.sub(r"[^\w-]+|_+", "-", part).strip("-") or "x"
