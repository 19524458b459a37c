"""Photo uploads: judged by content, decoded once at the smallest useful scale, re-encoded clean."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import pillow_heif
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from PIL import ExifTags, Image, ImageCms

from contest.media import Rejected, banded_resize, decode_cost, photo_worker
from contest.media.isobmff import DAMAGED_MESSAGE, top_level_boxes
from contest.media.photo_worker import DecodeLimits

pillow_heif.register_heif_opener()

PREVIEW_LONG_SIDE = 1600
THUMBNAIL_LONG_SIDE = 480
JPEG_QUALITY = 85
# Photos longer than this many times their short side are strips, not photos (a 360° phone
# panorama is about 16:1); it also keeps the 480 px thumbnail at least a few pixels high.
MAX_ASPECT_RATIO = 20
# Names and strings from EXIF are stored and shown; a hostile file can make them 64 kB long.
MAX_EXIF_TEXT = 128

# Bicubic: 27 ms against Lanczos's 36 ms for a 12 MP photo's 2016 -> 1600 px step, measured
# here; PERFORMANCE-NOTES.md found the difference in quality to be about 0.15 dB.
RESAMPLE = Image.Resampling.BICUBIC
# Integer reduce() first while the remaining resample still shrinks at least this much. A 12 MP
# PNG or HEIC (no shrink-on-load) then gets a 2x box reduce and a 1.26x bicubic step, as a JPEG
# gets from its half-scale draft decode: 82 ms of CPU instead of 169 ms with 2.0, where the
# 2.5x bicubic over all 12 MP was a third of a HEIC's whole submission (issue 19).
REDUCING_GAP = 1.25
# The thumbnail shrinks the preview 3.3 times: a 2x box reduce() first, then bicubic at 1.67,
# halves its cost; the difference does not show at 480 px.
THUMBNAIL_REDUCING_GAP = 1.5

# Lazy: each message becomes text in the visitor's language when shown.
UNSUPPORTED_MESSAGE = _l(
    "지원하지 않는 파일 형식입니다. JPG, PNG, WebP, HEIC 사진만 올릴 수 있습니다."
)
EMPTY_MESSAGE = _l("파일이 비어 있습니다.")

# What Image.open may try. MPO (multi-picture JPEG, also Android Ultra HDR) comes from the
# JPEG factory; everything else (GIF, TIFF, BMP, PSD, EPS, AVIF...) never reaches a parser.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
_STORED_AS = {
    "JPEG": (".jpg", "image/jpeg"),
    "MPO": (".jpg", "image/jpeg"),
    "PNG": (".png", "image/png"),
    "WEBP": (".webp", "image/webp"),
    "HEIF": (".heic", "image/heic"),
}
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
# AVIF also lists mif1/msf1 among its brands: it is refused by name, not decoded.
_AVIF_BRANDS = frozenset({b"avif", b"avis", b"avio"})

# What Pillow and pillow-heif raise for bad bytes (Pillow's own fuzzers accept the same set);
# pillow-heif reports libheif decoding errors as RuntimeError.
_BAD_DATA: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    struct.error,
    EOFError,
    IndexError,
    RuntimeError,
)

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class Derivative:
    """A re-encoded JPEG made from the upload, with no metadata at all."""

    data: bytes  # the encoded JPEG
    content_type: str  # "image/jpeg"
    extension: str  # ".jpg"
    width: int
    height: int


@dataclass(frozen=True)
class Photo:
    """What an accepted photo is, what it says about itself, and its two derivatives."""

    format: str  # "JPEG", "MPO", "PNG", "WEBP" or "HEIF"
    extension: str  # the original's extension to store it under
    content_type: str  # of the original
    width: int  # as displayed, i.e. after EXIF orientation
    height: int
    captured_at: datetime | None  # EXIF DateTimeOriginal (fallback DateTime), camera-local time
    camera_make: str | None
    camera_model: str | None
    preview: Derivative  # long side <= PREVIEW_LONG_SIDE
    thumbnail: Derivative  # long side <= THUMBNAIL_LONG_SIDE


def process_photo(
    path: Path,
    *,
    min_long_side: int = 1000,
    max_pixels: int = 100_000_000,
    limits: DecodeLimits | None = None,
) -> Photo:
    """Check an uploaded photo by its content and make its two derivatives, or raise Rejected.

    The headers are read here; the pixels are decoded in a child capped in time and memory
    (`photo_worker`), within the server's decode budget described by `limits`.
    """
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        if file_size == 0:
            raise Rejected(EMPTY_MESSAGE, 400)
        head = f.read(64)
        if head[4:8] == b"ftyp":
            _check_heif_container(f, file_size)
        f.seek(0)
        with _open(f, head, max_pixels) as im:
            fmt = im.format
            assert fmt is not None
            width, height = im.size
            _check_size(width, height, min_long_side, max_pixels)
            scale = 1
            if fmt in ("JPEG", "MPO"):
                draft = _draft_size(im, (width, height))
                scale = max(1, width // draft[0])
            cost = _cost(f, fmt, (width, height), scale)
    job = {"op": "photo", "path": str(path), "max_pixels": max_pixels}
    facts, (preview, thumbnail) = _decode(job, cost, limits, max_pixels)
    orientation = facts["orientation"]
    if orientation in (5, 6, 7, 8):  # a quarter turn: displayed sideways from the stored pixels
        width, height = height, width
    extension, content_type = _STORED_AS[fmt]
    captured = facts["captured_at"]
    return Photo(
        format=fmt,
        extension=extension,
        content_type=content_type,
        width=width,
        height=height,
        captured_at=datetime.fromisoformat(captured) if captured else None,
        camera_make=facts["camera_make"],
        camera_model=facts["camera_model"],
        preview=_derivative(preview),
        thumbnail=_derivative(thumbnail),
    )


def full_resolution(path: Path, limits: DecodeLimits | None = None) -> Derivative:
    """The accepted photo at its full size, upright, sRGB, as a JPEG without any metadata.

    For judges who zoom in: the original itself carries EXIF (camera owner, GPS) and may be a
    HEIC that browsers cannot show. Only ever called on an original that `process_photo`
    accepted, so the checks are not repeated; this is the one place a full-size decode is
    wanted, and it runs once per entry (the result is kept), in a capped child like the others.
    """
    with open(path, "rb") as f, Image.open(f, formats=_OPEN_FORMATS) as im:
        fmt = im.format or ""
        cost = _cost(f, fmt, im.size, 1)
    _, (data,) = _decode({"op": "full", "path": str(path)}, cost, limits, 10**10)
    return _derivative(data)


def run_job(job: dict) -> tuple[dict, list[bytes]]:
    """The child's side of `process_photo` and `full_resolution` (see `photo_worker.serve`).

    Answers the facts and the encoded JPEGs, or {"refused": reason}: "damaged", "too_large".
    """
    try:
        with Image.open(job["path"], formats=_OPEN_FORMATS) as im:
            if job["op"] == "full":
                return {}, [_full_jpeg(im)]
            return _derive(im, Path(job["path"]))
    except Image.DecompressionBombError:
        return {"refused": "too_large"}, []
    except MemoryError:
        raise
    except _BAD_DATA as why:
        # libheif reports an allocation the cap refused as a RuntimeError, not MemoryError.
        if "memory" in str(why).lower() or "alloc" in str(why).lower():
            return {"refused": "memory"}, []
        return {"refused": "damaged"}, []


def _decode(
    job: dict, cost: int, limits: DecodeLimits | None, max_pixels: int
) -> tuple[dict, list[bytes]]:
    """Run a job in a capped child and turn its refusals into the visitor's."""
    try:
        return photo_worker.decode(job, cost, limits or DecodeLimits())
    except photo_worker._Refused as why:
        refusal = photo_worker.refusal(why.reason)
        if refusal is not None:
            raise refusal from why
        if why.reason == "too_large":
            raise Rejected(_too_large(max_pixels), 422) from why
        raise Rejected(DAMAGED_MESSAGE, 422) from why


def _cost(f: BinaryIO, fmt: str, size: tuple[int, int], scale: int) -> int:
    """The decode's memory estimate; a structure no camera writes is refused."""
    try:
        return decode_cost.estimate(f, fmt, size, scale)
    except decode_cost.TooCostly as why:
        raise Rejected(photo_worker.TOO_COSTLY_MESSAGE, 422) from why
    except (IndexError, ValueError, struct.error) as why:
        raise Rejected(DAMAGED_MESSAGE, 422) from why


def _derivative(data: bytes) -> Derivative:
    """A JPEG made by a child, described by its own header."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
        width, height = im.size
    return Derivative(
        data=data, content_type="image/jpeg", extension=".jpg", width=width, height=height
    )


def _draft_size(im: Image.Image, size: tuple[int, int]) -> tuple[int, int]:
    """The size libjpeg will decode at: set the draft (no pixels decoded yet) and read it."""
    preview_size = _fit(size, PREVIEW_LONG_SIDE)
    if preview_size == size:
        return size
    # libjpeg decodes at 1/2, 1/4 or 1/8 scale (DCT scaling) when asked for a size that
    # keeps the aspect ratio: a 48 MP photo is never decoded at full size. HEIF's draft()
    # would swap in an embedded thumbnail, which may not show the same picture: not used.
    im.draft("RGB", _draft_request(size, PREVIEW_LONG_SIDE))
    return im.size


def _check_size(width: int, height: int, min_long_side: int, max_pixels: int) -> None:
    """The size checks, all from the header, before a single pixel is decoded."""
    if width <= 0 or height <= 0:
        raise Rejected(DAMAGED_MESSAGE, 422)
    if width * height > max_pixels:
        raise Rejected(_too_large(max_pixels), 422)
    long_side, short_side = max(width, height), min(width, height)
    if long_side < min_long_side:
        message = _l(
            "사진이 너무 작습니다: 긴 변이 최소 %(minimum)s픽셀이어야 합니다"
            " (올린 사진 %(actual)s픽셀).",
            minimum=min_long_side,
            actual=long_side,
        )
        raise Rejected(message, 422)
    if long_side > MAX_ASPECT_RATIO * short_side:
        message = _l(
            "사진이 너무 길쭉합니다: 긴 변이 짧은 변의 %(ratio)s배를 넘을 수 없습니다.",
            ratio=MAX_ASPECT_RATIO,
        )
        raise Rejected(message, 422)


def _derive(im: Image.Image, path: Path) -> tuple[dict, list[bytes]]:
    """In the child: decode once (JPEG at its draft scale), read the metadata, encode the JPEGs."""
    fmt = im.format
    if fmt == "PNG":
        # Pillow's PNG decoder skips the IDAT checksums, and zlib may inflate damaged bytes
        # into plausible garbage; the CRC pass is cheap (no decoding) and PNG is the only
        # format here that carries checksums.
        with Image.open(path, formats=["PNG"]) as check:
            check.verify()
    size = im.size
    if fmt in ("JPEG", "MPO"):
        # Not decoded here: the preview's resize decodes it (MPO: frame 0 only, never seek()),
        # each band resampled as soon as libjpeg has written its rows (`banded_resize`).
        # Its EXIF is read with its header.
        _draft_size(im, size)
    else:
        im.load()  # a PNG's EXIF chunk may follow its pixels
    exif = _exif(im)
    # libheif already applies the HEIF rotation/mirror boxes, and pillow-heif resets the EXIF
    # Orientation to 1 (keeping the old value in info["original_orientation"]); the HEIF
    # spec says to ignore the EXIF value, so a HEIC is never rotated a second time.
    orientation = 1 if fmt == "HEIF" else _orientation(exif)
    preview, thumbnail = make_derivatives(
        _preview(im, _fit(size, PREVIEW_LONG_SIDE), _TRANSPOSE.get(orientation))
    )
    captured = _captured_at(exif)
    facts = {
        "orientation": orientation,
        "captured_at": captured.isoformat() if captured else None,
        "camera_make": _exif_text(exif, ExifTags.Base.Make),
        "camera_model": _exif_text(exif, ExifTags.Base.Model),
    }
    return facts, [preview.data, thumbnail.data]


def _full_jpeg(im: Image.Image) -> bytes:
    """In the child: the full-size upright sRGB JPEG of `full_resolution`."""
    im.load()
    orientation = 1 if im.format == "HEIF" else _orientation(_exif(im))
    return _encode(_preview(im, im.size, _TRANSPOSE.get(orientation))).data


def _open(f: BinaryIO, head: bytes, max_pixels: int) -> Image.Image:
    """Open with the allowed parsers only; map Pillow's refusals to Rejected."""
    try:
        im = Image.open(f, formats=_OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as why:
        # Pillow's own cap fires inside open(). The warning arrives as an exception only when
        # warnings are errors (as under pytest here); either way it is a visitor's too-large
        # photo, not a server error. Pillow's limits and the warning filters stay global defaults.
        raise Rejected(_too_large(max_pixels), 422) from why
    except _BAD_DATA as why:
        # A parser that recognised its format and then failed is reported by Pillow as
        # "cannot identify": say "damaged" when the magic bytes are one of ours.
        if _looks_supported(head):
            raise Rejected(DAMAGED_MESSAGE, 422) from why
        raise Rejected(UNSUPPORTED_MESSAGE, 415) from why
    if im.format not in _STORED_AS:
        im.close()
        raise Rejected(UNSUPPORTED_MESSAGE, 415)
    return im


def make_derivatives(preview: Image.Image) -> tuple[Derivative, Derivative]:
    """Encode an upright RGB image (long side <= 1600) as the preview and its thumbnail JPEGs."""
    # Shared with the video posters. The preview is encoded on a worker thread while the
    # thumbnail is made from it.
    preview_job = banded_resize.POOL.submit(_encode, preview)
    thumbnail = _encode(
        preview.resize(
            _fit(preview.size, THUMBNAIL_LONG_SIDE),
            RESAMPLE,
            reducing_gap=THUMBNAIL_REDUCING_GAP,
        )
    )
    return preview_job.result(), thumbnail


def _preview(
    im: Image.Image, size: tuple[int, int], transpose: Image.Transpose | None
) -> Image.Image:
    """Resize the image to `size`, turn it upright, make it sRGB without alpha.

    A JPEG may come undecoded, its draft set: it is then decoded as it is resized.
    """
    icc = im.info.get("icc_profile")
    source = _resizable(im)
    # The orientation and the colour conversion run on the reduced pixels only, never on the
    # full-size ones (they commute: one is geometry, the other per pixel). An RGB photo with a
    # profile (every iPhone photo: Display P3) is converted band by band on the resizing
    # threads, with a transform built once per profile.
    convert = _srgb_converter(icc) if icc and source.mode == "RGB" else None
    out = banded_resize.resize_upright(source, size, RESAMPLE, REDUCING_GAP, transpose, convert)
    if convert is None:
        out = _flatten(out)
        out = _to_srgb(out, icc)
    out.info = {}  # the preview carries nothing of the upload's metadata
    return out


@lru_cache(maxsize=8)
def _srgb_converter(icc: bytes) -> Callable[[Image.Image], Image.Image] | None:
    """An RGB-to-sRGB conversion through the profile `icc`, or None when it cannot be built.

    Built once per profile in each child: the phones of a fair write a handful of profiles.
    """
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        transform = ImageCms.buildTransform(source, _SRGB, "RGB", "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # _to_srgb then falls back as it does for any broken profile
    return lambda band: ImageCms.applyTransform(band, transform)


def _resizable(im: Image.Image) -> Image.Image:
    """Bring exotic modes (bilevel, palette, 16-bit) to one that resizes in 8 bits per channel."""
    mode = im.mode
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return im
    if mode == "P":
        return im.convert("RGBA" if "transparency" in im.info else "RGB")
    if mode in ("PA", "RGBa", "La"):
        return im.convert("RGBA")
    if mode.startswith("I;16") or mode == "I":
        # convert("L") clips 16-bit values at 255 (everything light turns white): scale first.
        return im.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if mode == "1":
        return im.convert("L")
    return im.convert("RGB")


def _flatten(im: Image.Image) -> Image.Image:
    """Composite any alpha channel on white, since JPEG has none."""
    if im.mode not in ("RGBA", "LA"):
        return im
    base_mode = "L" if im.mode == "LA" else "RGB"
    out = Image.new(base_mode, im.size, 255 if base_mode == "L" else (255, 255, 255))
    out.paste(im.convert(base_mode), mask=im.getchannel("A"))
    return out


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert through the embedded ICC profile to sRGB, or plainly to RGB without one."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            # A broken or mismatched profile (say an RGB profile on a CMYK image) is the
            # camera's or editor's fault: fall back to the plain conversion, never refuse.
            converted = None
        if converted is not None:
            return converted
    # Adobe's inverted CMYK JPEGs are already un-inverted by Pillow's decoder.
    return im if im.mode == "RGB" else im.convert("RGB")


def _encode(im: Image.Image) -> Derivative:
    """Encode a derivative as a JPEG with no EXIF, ICC profile or comment."""
    # Pillow copies a JPEG COM comment from `info` into the output: start from an empty
    # dict so nothing of the upload (GPS, payloads in comments) travels into a derivative.
    im.info = {}
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return Derivative(
        data=buffer.getvalue(),
        content_type="image/jpeg",
        extension=".jpg",
        width=im.width,
        height=im.height,
    )


def _check_heif_container(f: BinaryIO, file_size: int) -> None:
    """Accept only HEIC/HEIF brands, and only a file whose top-level boxes fill it exactly."""
    boxes = top_level_boxes(f, file_size)
    ftyp = boxes[0]
    f.seek(ftyp.offset)
    # Brands follow the 8-byte header: major brand, minor version, then compatible brands.
    data = f.read(min(ftyp.size, 4096))[8:]
    if len(data) < 8:
        raise Rejected(DAMAGED_MESSAGE, 422)
    major = data[:4]
    brands = {major} | {data[i : i + 4] for i in range(8, len(data) - 3, 4)}
    if brands & _AVIF_BRANDS or not brands & _HEIF_BRANDS:
        raise Rejected(UNSUPPORTED_MESSAGE, 415)


def _looks_supported(head: bytes) -> bool:
    """Tell from the first bytes whether a file claims to be one of the accepted formats."""
    return (
        head.startswith(b"\xff\xd8\xff")
        or head.startswith(b"\x89PNG\r\n\x1a\n")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head[4:8] == b"ftyp"
    )


def _fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """Scale `size` so its long side is at most `long_side`, never enlarging."""
    width, height = size
    scale = long_side / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _draft_request(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The smallest size with the same aspect ratio whose long side is at least `long_side`."""
    # draft() picks the largest 1/n scale that stays >= the request in both directions;
    # asking for a square would forbid any reduction of a 4:3 photo.
    width, height = size
    longest = max(width, height)
    # Rounded up: a request a pixel short of the preview would allow the next smaller scale.
    return max(1, -(-width * long_side // longest)), max(1, -(-height * long_side // longest))


def _exif(im: Image.Image) -> Image.Exif:
    """The image's EXIF, or an empty one when it is missing or unreadable."""
    try:
        return im.getexif()
    except _BAD_DATA:
        # Unreadable metadata loses the capture date, not the entry.
        return Image.Exif()


def _orientation(exif: Image.Exif) -> int:
    """The EXIF Orientation (1-8), 1 when missing or invalid."""
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _captured_at(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal, else DateTime, as a naive camera-local datetime; None when unusable."""
    try:
        sub_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    except _BAD_DATA:
        sub_ifd = {}
    for value in (sub_ifd.get(ExifTags.Base.DateTimeOriginal), exif.get(ExifTags.Base.DateTime)):
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if not isinstance(value, str):
            continue
        text = value.strip("\x00 ")[:19]
        for pattern in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
            try:
                return datetime.strptime(text, pattern)
            except ValueError:
                continue
    return None


def _exif_text(exif: Image.Exif, tag: int) -> str | None:
    """A printable, stripped EXIF string, cut to MAX_EXIF_TEXT; None when missing or empty."""
    value = exif.get(tag)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()[:MAX_EXIF_TEXT].strip()
    return text or None


def _too_large(max_pixels: int) -> LazyString:
    """The too-large message with the limit in Korean units (1억, 5000만), or English ones."""
    return _l(
        "사진 해상도가 너무 큽니다 (최대 %(limit)s 화소).",
        limit=LazyString(_pixel_count, max_pixels),
    )


def _pixel_count(n: int) -> str:
    """A pixel count in the visitor's language: "1억" in Korean, "100 million" in English."""
    locale = get_locale()  # None outside a request: Korean, the source language
    if locale is None or locale.language == "ko":
        return _korean_count(n)
    millions, ones = divmod(n, 1_000_000)
    return f"{millions:,} million" if millions and not ones else f"{n:,}"


def _korean_count(n: int) -> str:
    """Write a count with the Korean units 억 (10^8) and 만 (10^4): 100_000_000 is "1억"."""
    eok, rest = divmod(n, 100_000_000)
    man, ones = divmod(rest, 10_000)
    if ones:
        return f"{n:,}"
    parts = ([f"{eok}억"] if eok else []) + ([f"{man}만"] if man else [])
    return " ".join(parts) or "0"
