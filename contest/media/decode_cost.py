"""What decoding a photo will cost, read from its headers before a single pixel is decoded.

The pixel cap (`PHOTO_MAX_PIXELS`) says nothing about time or memory: a 284 KB progressive JPEG
of 10 000 x 10 000 with 2 000 AC scans took 76 s to decode, a 400 KB flat-colour RGBA PNG of the
same size 1.4 GB. These checks refuse what no camera writes and estimate the memory the decode
of the rest may take; `photo_worker` reserves that estimate in the server's budget and caps the
child that decodes at it, which is the hard bound for whatever these checks do not foresee.
"""

from __future__ import annotations

import mmap
import re
import struct
from typing import BinaryIO

# libjpeg's own progression writes 6 scans for grey and 10 for colour, mozjpeg's optimised
# ones a few more; every scan costs a pass over the whole image (~9 ms at 100 MP here).
MAX_JPEG_SCANS = 64
# What the decode needs besides the pixels: the derivatives (at most 1600 px), codec state,
# the decoder threads' stacks and the allocator's slack.
BASE_BYTES = 96 * 1024**2

# Bytes per pixel the pipeline holds at its peak, from PNG's colour type and bit depth: Pillow
# keeps RGB in 4 bytes, 16-bit grey is widened to 32 bits and scaled (I;16 + I + I), a palette
# is expanded to RGB(A), and alpha is premultiplied once for the resize.
_PNG_BYTES_PER_PIXEL = {
    (0, 1): 2,
    (0, 2): 2,
    (0, 4): 2,
    (0, 8): 1,
    (0, 16): 11,
    (2, 8): 4,
    (2, 16): 4,
    (3, 1): 5,
    (3, 2): 5,
    (3, 4): 5,
    (3, 8): 5,
    (4, 8): 8,
    (4, 16): 8,
    (6, 8): 8,
    (6, 16): 8,
}
# libwebp's RGBA frame, Pillow's copy, and the premultiplied copy for the resize.
_WEBP_BYTES_PER_PIXEL = 12
# libheif's YUV planes, its interleaved RGB(A), Pillow's copy: a 12 MP 8-bit HEIC grew the
# decoding process by 7.8 bytes a pixel here; 10-bit HDR photos' 16-bit planes add about 2.
_HEIF_BYTES_PER_PIXEL = 10
# The JPEG decoder's output at its draft scale in Pillow's 4-byte RGB, plus the resize copies.
_JPEG_OUTPUT_BYTES_PER_PIXEL = 8

# A marker after entropy-coded data: 0xFF followed by neither a stuffed 0x00, a restart marker
# (D0-D7) nor a fill byte.
_NEXT_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
# Start-of-frame markers: baseline, extended, progressive and lossless, Huffman or arithmetic.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PROGRESSIVE_SOF = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


class TooCostly(Exception):
    """The headers describe a file whose decoding would cost more than any camera's photo."""


def estimate(f: BinaryIO, fmt: str, size: tuple[int, int], scale: int = 1) -> int:
    """Bytes the decode of this photo may take; raise TooCostly for a structure we refuse.

    `size` is the header's width and height, `scale` the JPEG draft's reduction (1, 2, 4, 8).
    """
    width, height = size
    pixels = width * height
    if fmt in ("JPEG", "MPO"):
        return BASE_BYTES + _jpeg_bytes(f, size, scale)
    if fmt == "PNG":
        return BASE_BYTES + pixels * _png_bytes_per_pixel(f)
    if fmt == "WEBP":
        return BASE_BYTES + pixels * _WEBP_BYTES_PER_PIXEL
    return BASE_BYTES + pixels * _HEIF_BYTES_PER_PIXEL


def _png_bytes_per_pixel(f: BinaryIO) -> int:
    f.seek(0)
    head = f.read(33)
    # Pillow has already checked the signature and that IHDR comes first.
    bit_depth, colour_type = head[24], head[25]
    return _PNG_BYTES_PER_PIXEL.get((colour_type, bit_depth), 11)


def _jpeg_bytes(f: BinaryIO, size: tuple[int, int], scale: int) -> int:
    """Walk the markers of the first image: count the scans, check the progression."""
    width, height = size
    f.seek(0)
    try:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (ValueError, OSError):  # not a real file (a test's BytesIO): read it
        data = f.read()
    try:
        progressive, sampling, scans = _walk_jpeg(data)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    output = -(-width // scale) * -(-height // scale) * _JPEG_OUTPUT_BYTES_PER_PIXEL
    if not progressive and scans <= 1:
        return output
    # Progressive and multi-scan files keep every DCT coefficient of the whole image (2 bytes
    # each), whatever the draft scale, until the last scan is in.
    h_max = max((h for h, _ in sampling), default=1) or 1
    v_max = max((v for _, v in sampling), default=1) or 1
    coefficients = sum(
        -(-width * h // (8 * h_max)) * -(-height * v // (8 * v_max)) * 64 * 2 for h, v in sampling
    )
    return output + coefficients


def _walk_jpeg(data: bytes | mmap.mmap) -> tuple[bool, list[tuple[int, int]], int]:
    """(progressive, each component's sampling factors, scan count); raise TooCostly."""
    progressive = False
    sampling: list[tuple[int, int]] = []
    dc_seen: set[int] = set()
    scans = 0
    pos = 2  # after SOI
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            break  # not where a marker should be: damaged, the decoder will say so
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI: the first image ends (an MPO's others are never decoded)
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segment = data[pos + 4 : pos + 2 + length]
        if marker in _SOF and len(segment) >= 6:
            progressive = marker in _PROGRESSIVE_SOF
            count = segment[5]
            sampling = [
                (segment[7 + 3 * i] >> 4, segment[7 + 3 * i] & 0x0F)
                for i in range(count)
                if 8 + 3 * i < len(segment)
            ]
        if marker != 0xDA:
            pos += 2 + length
            continue
        scans += 1
        if scans > MAX_JPEG_SCANS:
            raise TooCostly(f"more than {MAX_JPEG_SCANS} scans")
        if segment:
            count = segment[0]
            ids = {segment[1 + 2 * i] for i in range(count) if 1 + 2 * i < len(segment)}
            spectral_start = segment[1 + 2 * count] if 1 + 2 * count < len(segment) else 0
            if progressive:
                if spectral_start == 0:
                    dc_seen |= ids
                elif not ids <= dc_seen:
                    # ITU T.81 G.1.1.1.1: a component's DC scan comes before its AC scans.
                    raise TooCostly("AC scan before the DC scan")
        found = _NEXT_MARKER.search(data, pos + 2 + length)
        if found is None:
            break
        pos = found.start()
    return progressive, sampling, scans
