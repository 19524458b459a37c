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


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    """Encode an image in memory."""
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
