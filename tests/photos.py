"""Photos made inside the tests, so no binary file is ever committed.

A photo used to take ~0.1 s to draw and encode, and the suite makes thousands. Now the gradients
of a size are drawn once, the sensor-like noise comes from seeded random bytes, and files that
may repeat (those `make_entry` stores directly) are encoded once per session: `stored_photo`.

`photo_image` and `photo_bytes` draw new noise at every call, as a camera would: two calls give
different files (SHA-256) and pictures the perceptual hash tells apart, for the same seed too.
The seed chooses the tint. Send the same bytes twice for an exact duplicate.
"""

from __future__ import annotations

import functools
import itertools
import random

from PIL import Image

from .media.imagegen import encode

_draws = itertools.count()


@functools.lru_cache(maxsize=8)
def _gradients(size: tuple[int, int]) -> Image.Image:
    """What every picture of a size shares: a gradient down, one across and one down again."""
    gradient = Image.linear_gradient("L").resize(size)
    across = gradient.transpose(Image.Transpose.ROTATE_90).resize(size)
    return Image.merge("RGB", (gradient, across, gradient))


def _picture(size: tuple[int, int], seed: int, draw: int) -> Image.Image:
    width, height = size
    rng = random.Random(seed)
    colour = tuple(rng.randrange(40, 220) for _ in range(3))
    tint = Image.new("RGB", size, colour)
    # Grey noise of the spread Image.effect_noise(size, 30) gave, at a tenth of its cost.
    grain = random.Random(f"{seed}/{draw}").randbytes(width * height)
    noise = Image.frombytes("L", size, grain).point(lambda v: 76 + v * 104 // 255)
    return Image.blend(Image.blend(_gradients(size), tint, 0.5), noise.convert("RGB"), 0.15)


def photo_image(size: tuple[int, int] = (1200, 900), seed: int = 1) -> Image.Image:
    """A camera-like picture: a gradient tinted by the seed, with new noise at every call."""
    return _picture(tuple(size), seed, next(_draws))


def photo_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (1200, 900), seed: int = 1, **save_args
) -> bytes:
    """A new encoded photo at every call: JPEG by default, or PNG, WEBP, HEIF, ..."""
    return _encode(photo_image(size, seed), fmt, save_args)


@functools.cache
def stored_photo(size: tuple[int, int] = (1200, 900), seed: int = 1) -> bytes:
    """The one JPEG of a size and seed, made once per session: for files written straight to
    storage, never uploaded, where the same bytes may come back in every test."""
    return _encode(_picture(tuple(size), seed, draw=-1), "JPEG", {})


def _encode(image: Image.Image, fmt: str, save_args: dict) -> bytes:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    return encode(image, fmt, **save_args)


# The print settings Photoshop on a Mac keeps in a saved photo: an Apple plist, doctype included.
APPLE_PRINT_PLIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>com.apple.print.PageFormat.PMHorizontalRes</key>
\t<dict>
\t\t<key>com.apple.print.ticket.creator</key>
\t\t<string>com.apple.jobticket</string>
\t\t<key>com.apple.print.ticket.itemArray</key>
\t\t<array>
\t\t\t<dict>
\t\t\t\t<key>com.apple.print.PageFormat.PMHorizontalRes</key>
\t\t\t\t<real>72</real>
\t\t\t</dict>
\t\t</array>
\t</dict>
</dict>
</plist>
"""


def photoshop_mac_jpeg(plist: bytes = APPLE_PRINT_PLIST, **photo_args) -> bytes:
    """A JPEG as Photoshop on a Mac saves it: an APP13 "Photoshop 3.0" segment right after SOI
    whose 8BIM resource 1001 (the Mac print record) holds Apple's print settings plist."""
    jpeg = photo_bytes(**photo_args)
    assert jpeg[:2] == b"\xff\xd8"
    data = plist + b"\0" * (len(plist) % 2)  # resource data is padded to an even length
    resource = b"8BIM" + (1001).to_bytes(2, "big") + b"\0\0" + len(plist).to_bytes(4, "big") + data
    payload = b"Photoshop 3.0\0" + resource
    segment = b"\xff\xed" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]
