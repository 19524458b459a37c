"""Photos made inside the tests, so no binary file is ever committed."""

from __future__ import annotations

import io
import random

from PIL import Image


def photo_image(size: tuple[int, int] = (1200, 900), seed: int = 1) -> Image.Image:
    """A camera-like picture: a gradient with some texture, different for each seed."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    rng = random.Random(seed)
    colour = tuple(rng.randrange(40, 220) for _ in range(3))
    base = Image.merge(
        "RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_90).resize(size), gradient)
    )
    tint = Image.new("RGB", size, colour)
    noise = Image.effect_noise(size, 30).convert("RGB")
    return Image.blend(Image.blend(base, tint, 0.5), noise, 0.15)


def photo_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (1200, 900), seed: int = 1, **save_args
) -> bytes:
    """An encoded photo: JPEG by default, or PNG, WEBP, HEIF, ..."""
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    out = io.BytesIO()
    photo_image(size, seed).save(out, fmt, **save_args)
    return out.getvalue()
