"""Telling a photo from a video by its first bytes, before any parser sees the file."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from contest.media import Rejected

UNSUPPORTED_MESSAGE = _l(
    "지원하지 않는 파일 형식입니다. 사진(JPG, PNG, WebP, HEIC)이나 영상(MP4, MOV, WebM)만"
    " 올릴 수 있습니다."
)
# ISO base media files name their family in the ftyp box: these brands are still images
# (HEIC/HEIF/AVIF); every other ftyp file is a movie candidate for the video checks.
_IMAGE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM


def sniff_kind(path: Path) -> str:
    """ "photo" or "video" from the file's signature; anything else is refused (415).

    Only the signature decides which checks run; the checks themselves then judge the whole
    file. A text file (an ffconcat list, an HLS playlist) is neither, so it never reaches FFmpeg.
    """
    with open(path, "rb") as f:
        head = f.read(64)
    if not head:
        raise Rejected(_l("파일이 비어 있습니다. 파일을 다시 선택해 주세요."), 400)
    if head[4:8] == b"ftyp":
        return "photo" if head[8:12] in _IMAGE_BRANDS else "video"
    if head.startswith(_EBML):
        return "video"
    if (
        head.startswith(b"\xff\xd8\xff")
        or head.startswith(b"\x89PNG\r\n\x1a\n")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    ):
        return "photo"
    raise Rejected(UNSUPPORTED_MESSAGE, 415)
