"""Personal data inside a photo file: where it was taken, who owns the camera, which camera.

`strip_photo` rewrites an original without it, leaving the pictures' coded bytes untouched
(the retention purge keeps winners' originals, and non-winners' without --originals). Only
containers are rewritten, never pixels, so nothing here decodes an image: these are segment,
chunk and box walks over the file's bytes, and Pillow reads only the EXIF block itself (at most
64 kB in a JPEG), never the picture.

What goes, per format:
- EXIF (JPEG APP1, PNG eXIf, HEIC Exif item), rewritten: the GPS IFD, Artist, Copyright,
  HostComputer, XPAuthor, CameraOwnerName, BodySerialNumber, LensSerialNumber and the maker
  note (where makers keep serial numbers and more; its format is each maker's own, so it goes
  whole). Orientation, make, model and the capture time stay: they are not personal and the
  site shows photos by them. The thumbnail IFD goes too (Pillow does not write it back).
- XMP (JPEG APP1, PNG iTXt, HEIC mime item) goes whole: it may repeat GPS, name the creator
  (dc:creator) and hold serials (aux:SerialNumber).
- JPEG: also Photoshop/IPTC (APP13: byline, city), comments (COM), C2PA/JUMBF (APP11: its
  assertions may hold the place and the signer's name, and any rewrite breaks its binding, whose
  state was read and kept at submission), the MPF index (APP2 "MPF") and whatever follows the
  first image (an MPO's second frame or a gain map, each with its own EXIF): the first image is
  the one the site decoded and judged.
- PNG: every text chunk (tEXt, zTXt, iTXt: XMP, authors, generation parameters) and C2PA (caBX).
- HEIC: the Exif item is rewritten and the XMP item blanked in place (zeros past the new EXIF,
  so no offset in the file moves); the orientation of a HEIC is its irot/imir boxes, untouched.
- WebP: the EXIF chunk is rewritten, the XMP chunk dropped (and its VP8X flag cleared).
- Anything else: None, "not cleaned": the purge lists those so the operator can delete them.
"""

from __future__ import annotations

import struct
import zlib

from PIL import ExifTags, Image

# IFD0 tags that name the owner or the computer; Exif IFD tags that name the owner or a serial.
OWNER_TAGS = (
    ExifTags.Base.Artist,
    ExifTags.Base.Copyright,  # "© <owner>" in practice
    ExifTags.Base.HostComputer,
    ExifTags.Base.XPAuthor,
)
DEVICE_TAGS = (
    ExifTags.Base.CameraOwnerName,
    ExifTags.Base.BodySerialNumber,
    ExifTags.Base.LensSerialNumber,
    ExifTags.Base.MakerNote,
)
_EXIF_HEADER = b"Exif\x00\x00"
_XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DROPPED = {b"tEXt", b"zTXt", b"iTXt", b"caBX"}


class Unreadable(ValueError):
    """The file's structure is not what its format says: it is left as it is, and listed."""


def strip_photo(data: bytes, media_format: str) -> bytes | None:
    """The photo file without its personal data, `data` itself when it had none, or None
    when this format is not cleaned here. Raises Unreadable for a structure it cannot walk."""
    try:
        if media_format in ("JPEG", "MPO"):
            return _strip_jpeg(data)
        if media_format == "PNG":
            return _strip_png(data)
        if media_format == "HEIF":
            return _strip_heif(data)
        if media_format == "WEBP":
            return _strip_webp(data)
    except Unreadable:
        raise
    except (IndexError, ValueError, struct.error) as why:
        raise Unreadable(str(why)) from why
    return None


def clean_exif(block: bytes) -> bytes:
    """An EXIF block ("Exif\\0\\0" + TIFF, or TIFF) without the personal tags, as Exif + TIFF."""
    exif = Image.Exif()
    try:
        exif.load(block)
        sub_ifd = exif.get_ifd(ExifTags.IFD.Exif)
        for tag in (*OWNER_TAGS, ExifTags.IFD.GPSInfo):
            exif.pop(tag, None)
        for tag in DEVICE_TAGS:
            sub_ifd.pop(tag, None)
        return exif.tobytes()
    except Exception as why:  # Pillow raises many kinds on a damaged or odd TIFF
        raise Unreadable(f"EXIF: {why}") from why


# JPEG


def _strip_jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise Unreadable("no JPEG start")
    out = [data[:2]]
    pos = 2
    while True:
        if data[pos] != 0xFF:
            raise Unreadable("a segment does not start with a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of the first image: what follows goes
            out.append(data[pos : pos + 2])
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if end > len(data):
            raise Unreadable("a segment runs past the end")
        segment = data[pos:end]
        out.append(_jpeg_segment(marker, segment))
        pos = end
        if marker == 0xDA:  # start of scan: the coded picture follows, copied as it is
            scan_end = _scan_end(data, pos)
            out.append(data[pos:scan_end])
            pos = scan_end
    return b"".join(out)


def _jpeg_segment(marker: int, segment: bytes) -> bytes:
    """The segment as it stays: itself, rewritten (EXIF) or b"" (dropped)."""
    payload = segment[4:]
    if marker == 0xE1 and payload.startswith(_EXIF_HEADER):
        block = clean_exif(payload)
        if len(block) + 2 > 0xFFFF:
            raise Unreadable("EXIF grew past a segment")
        return b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block
    if marker == 0xE1 and payload.startswith(_XMP_HEADERS):
        return b""
    if marker in (0xED, 0xEB, 0xFE):  # APP13 Photoshop/IPTC, APP11 JUMBF/C2PA, COM
        return b""
    if marker == 0xE2 and payload.startswith(b"MPF\x00"):
        return b""
    return segment


def _scan_end(data: bytes, pos: int) -> int:
    """Where the coded data after a start of scan ends: the next marker that is not a restart
    marker or a stuffed 0xFF00."""
    while True:
        pos = data.index(b"\xff", pos)
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1
            continue
        return pos


# PNG


def _strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise Unreadable("no PNG signature")
    out = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise Unreadable("a chunk runs past the end")
        if kind == b"eXIf":
            block = clean_exif(data[pos + 8 : pos + 8 + length])[len(_EXIF_HEADER) :]
            crc = zlib.crc32(kind + block)
            out.append(struct.pack(">I4s", len(block), kind) + block + struct.pack(">I", crc))
        elif kind not in _PNG_DROPPED:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


# WebP


def _strip_webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Unreadable("no WebP header")
    chunks = []
    pos = 12
    while pos + 8 <= len(data):
        kind, length = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            raise Unreadable("a chunk runs past the end")
        pos += 8 + length + (length & 1)
        if kind == b"EXIF":
            block = clean_exif(body)  # WebP's EXIF is TIFF, sometimes behind "Exif\0\0"
            body = block if body.startswith(_EXIF_HEADER) else block[len(_EXIF_HEADER) :]
        elif kind == b"XMP ":
            continue
        elif kind == b"VP8X":
            body = bytes([body[0] & ~0x04]) + body[1:]  # no XMP any more
        chunks.append(kind + struct.pack("<I", len(body)) + body + b"\x00" * (len(body) & 1))
    payload = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


# HEIC


def _strip_heif(data: bytes) -> bytes:
    """Rewrite the Exif item and blank the XMP item in place, inside their own extents."""
    meta = _child_box(data, 0, len(data), b"meta")
    if meta is None:
        return data
    start, end = meta
    start += 4  # a full box: version and flags
    items = _heif_items(data, start, end)
    locations = _heif_locations(data, start, end)
    out = bytearray(data)
    for item_id, (kind, content_type) in items.items():
        extents = locations.get(item_id)
        if not extents:
            continue
        if kind == b"Exif":
            _rewrite_exif_item(out, extents)
        elif kind == b"mime" and b"rdf+xml" in content_type:
            for offset, length in extents:
                out[offset : offset + length] = bytes(length)
    return bytes(out)


def _rewrite_exif_item(out: bytearray, extents: list[tuple[int, int]]) -> None:
    """The item is a 4-byte offset to the TIFF header, then the block: cleaned, zero-padded."""
    item = b"".join(bytes(out[o : o + n]) for o, n in extents)
    (skip,) = struct.unpack_from(">I", item, 0)
    tiff = item[4 + skip :]
    cleaned = clean_exif(tiff)[len(_EXIF_HEADER) :]
    room = len(item) - 4 - skip
    new = item[: 4 + skip] + (cleaned if len(cleaned) <= room else b"").ljust(room, b"\x00")
    pos = 0
    for offset, length in extents:
        out[offset : offset + length] = new[pos : pos + length]
        pos += length


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of each box between start and end."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Unreadable("a box runs past its parent")
        yield kind, pos + header, pos + size
        pos += size


def _child_box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


def _heif_items(data: bytes, start: int, end: int) -> dict[int, tuple[bytes, bytes]]:
    """item id -> (item type, content type) from iinf's infe boxes (versions 2 and 3)."""
    iinf = _child_box(data, start, end, b"iinf")
    if iinf is None:
        return {}
    pos, iinf_end = iinf
    version = data[pos]
    pos += 4 + (2 if version == 0 else 4)
    items = {}
    for kind, s, e in _boxes(data, pos, iinf_end):
        if kind != b"infe" or data[s] not in (2, 3):
            continue
        p = s + 4
        if data[s] == 2:
            (item_id,) = struct.unpack_from(">H", data, p)
            p += 2
        else:
            (item_id,) = struct.unpack_from(">I", data, p)
            p += 4
        p += 2  # protection index
        item_type = data[p : p + 4]
        p += 4
        p = data.index(b"\x00", p, e) + 1  # item name
        content_type = data[p : data.index(b"\x00", p, e)] if item_type == b"mime" else b""
        items[item_id] = (item_type, content_type)
    return items


def _heif_locations(data: bytes, start: int, end: int) -> dict[int, list[tuple[int, int]]]:
    """item id -> its extents (file offset, length), for items stored in the file itself."""
    iloc = _child_box(data, start, end, b"iloc")
    if iloc is None:
        return {}
    p, _ = iloc
    version = data[p]
    p += 4
    offset_size, length_size = data[p] >> 4, data[p] & 15
    base_size, index_size = data[p + 1] >> 4, (data[p + 1] & 15) if version in (1, 2) else 0
    p += 2
    count_format = ">H" if version < 2 else ">I"
    (count,) = struct.unpack_from(count_format, data, p)
    p += struct.calcsize(count_format)
    locations = {}
    for _ in range(count):
        (item_id,) = struct.unpack_from(count_format, data, p)
        p += struct.calcsize(count_format)
        method = 0
        if version in (1, 2):
            method = struct.unpack_from(">H", data, p)[0] & 15
            p += 2
        p += 2  # data reference index
        base, p = _uint(data, p, base_size)
        (extent_count,) = struct.unpack_from(">H", data, p)
        p += 2
        extents = []
        for _ in range(extent_count):
            p += index_size
            offset, p = _uint(data, p, offset_size)
            length, p = _uint(data, p, length_size)
            extents.append((base + offset, length))
        if method == 0 and all(o + n <= len(data) for o, n in extents):
            locations[item_id] = extents
    return locations


def _uint(data: bytes, pos: int, size: int) -> tuple[int, int]:
    return (int.from_bytes(data[pos : pos + size], "big") if size else 0), pos + size
