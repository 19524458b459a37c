"""Perceptual hashes (pHash): the same picture re-saved, resized or lightly edited hashes close."""

from __future__ import annotations

import io

import imagehash
from PIL import Image


def phash_of(jpeg: bytes) -> str:
    """The 64-bit perceptual hash (pHash) of an encoded image, as 16 hex digits."""
    with Image.open(io.BytesIO(jpeg)) as image:
        return str(imagehash.phash(image))


def distance(a: str, b: str) -> int:
    """How many of the 64 bits two hex pHashes differ in (0 = the same picture)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
