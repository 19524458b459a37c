"""Photos and files made on the spot for the media tests: nothing binary is committed."""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib

from PIL import Image, ImageCms, ImageDraw

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)


def camera_like(size: tuple[int, int] = (1200, 900), seed: int = 0) -> Image.Image:
    """A photo-ish RGB image: smooth gradients with sensor-like noise, the same for a seed."""
    width, height = size
    horizontal = Image.linear_gradient("L").rotate(90).resize(size)
    vertical = Image.linear_gradient("L").resize(size)
    # Seeded, unlike Image.effect_noise: a test must see the same bytes on every run.
    grain = random.Random(seed).randbytes(width * height)
    noise = Image.frombytes("L", size, grain).point(lambda v: v // 2 + 64)
    return Image.merge("RGB", (horizontal, vertical, noise))


@functools.cache
def camera_like_file(fmt: str, size: tuple[int, int] = (1200, 900), **params: object) -> bytes:
    """`encode(camera_like(size), fmt, **params)`, made once per session: the same bytes every
    time, as the image is seeded; a noisy 1200x900 PNG alone takes over half a second."""
    return encode(camera_like(size), fmt, **params)


def quadrants(size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """An upright test card: top-left red, top-right green, bottom half blue."""
    width, height = size
    im = Image.new("RGB", size, BLUE)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=RED)
    draw.rectangle((width // 2, 0, width - 1, height // 2 - 1), fill=GREEN)
    return im


# x265's default preset spends seconds on one noisy 1200x900 picture (1.9 s on an idle machine
# here, 8 s on a busy test worker); "ultrafast" takes 0.25 s and still writes an HEVC-coded HEIC
# that libheif decodes as any other. The tests are about decoding, not about compression.
FAST_HEIF_ENCODING = {"preset": "ultrafast"}


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    """Encode an image in memory (a HEIF quickly, see FAST_HEIF_ENCODING)."""
    if fmt == "HEIF":
        params.setdefault("enc_params", FAST_HEIF_ENCODING)
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a size in its IHDR (correct CRC) and holds no pixels at all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return (
        signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def swapped_primaries_profile() -> bytes:
    """An sRGB ICC profile whose red and blue primaries are swapped: red pixels mean blue."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", profile, 128)
    entries = {}
    for index in range(count):
        position = 132 + 12 * index
        signature = bytes(profile[position : position + 4])
        entries[signature] = position
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    red_pointer = bytes(profile[red + 4 : red + 12])
    profile[red + 4 : red + 12] = profile[blue + 4 : blue + 12]
    profile[blue + 4 : blue + 12] = red_pointer
    profile[84:100] = bytes(16)  # the profile ID (an MD5) no longer matches: zero means "not set"
    return bytes(profile)


# Bombs within the limits: small files whose header passes the 100 MP cap, written byte by byte
# (never held as an image here, so making them costs a few MB).


def _segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment: FF, the marker, the length (itself included) and the payload."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


@functools.cache
def jpeg_scan_bomb(
    size: tuple[int, int] = (10000, 10000), scans: int = 2000, dc_first: bool = False
) -> bytes:
    """A progressive greyscale JPEG of `scans` AC scans, with no DC scan unless `dc_first`.

    Each scan makes libjpeg walk every block of the image (~9 ms at 100 MP here), whatever the
    few bytes it holds: 2 000 of them in ~220 KB took 76 s to decode. The Huffman tables hold
    one 1-bit code each, so the zero bits libjpeg supplies after a scan's data decode as
    "nothing here" for every block.
    """
    width, height = size
    one_code = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1, for symbol 0
    parts = [
        b"\xff\xd8",
        _segment(0xDB, b"\x00" + bytes([1] * 64)),  # quantisation table 0, all ones
        _segment(0xC2, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
        _segment(0xC4, b"\x00" + one_code),  # DC table 0
        _segment(0xC4, b"\x10" + one_code),  # AC table 0
    ]
    if dc_first:
        parts.append(_segment(0xDA, b"\x01\x01\x00\x00\x00\x00") + b"\x00" * 64)
    ac_scan = _segment(0xDA, b"\x01\x01\x00\x01\x3f\x00") + b"\x00" * 96
    parts.extend([ac_scan] * scans)
    parts.append(b"\xff\xd9")
    return b"".join(parts)


@functools.cache
def png_flat_bomb(size: tuple[int, int] = (10000, 10000), mode: str = "RGBA") -> bytes:
    """A PNG of one flat colour: a few hundred KB that decode to `size` at full depth.

    `mode` is "RGBA" (8 bits x 4) or "I;16" (16-bit grey), the two costliest in Pillow.
    """
    width, height = size
    colour_type, bit_depth, pixel = {
        "RGBA": (6, 8, b"\x40\x80\xc0\xff"),
        "I;16": (0, 16, b"\x80\x00"),
    }[mode]
    first = b"\x00" + pixel * width  # filter None
    rest = b"\x02" + bytes(len(pixel) * width)  # filter Up: the same as the row above
    # Deflating 400 MB takes seconds: a block of rows is deflated once and repeated, each
    # copy after a full flush (which resets the compressor, so every copy is the same bytes);
    # the zlib wrapper's Adler-32 is computed over what the copies stand for.
    rows_per_block = 100
    block_rows, last_rows = divmod(height - 1, rows_per_block)
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = raw.compress(first) + raw.flush(zlib.Z_FULL_FLUSH)
    block = raw.compress(rest * rows_per_block) + raw.flush(zlib.Z_FULL_FLUSH)
    tail = raw.compress(rest * last_rows) + raw.flush()
    adler = zlib.adler32(first)
    for _ in range(block_rows):
        adler = zlib.adler32(rest * rows_per_block, adler)
    adler = zlib.adler32(rest * last_rows, adler)
    idat = b"\x78\xda" + head + block * block_rows + tail + struct.pack(">I", adler)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
