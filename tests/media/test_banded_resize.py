"""banded_resize: a JPEG's preview resampled in bands while libjpeg still decodes the rows below."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from contest.media import banded_resize
from contest.media.photo import REDUCING_GAP, RESAMPLE

from .imagegen import camera_like, camera_like_file, encode

Write = Callable[..., Path]

# Large enough that libjpeg's input comes in many reads (64 kB each), so bands do begin early.
SIZE = (2400, 1800)
PREVIEW = (1600, 1200)


def after_the_decode(path: Path, transpose: Image.Transpose | None, mode: str = "RGB"):
    """What the preview must be: the whole photo decoded, then resampled in one piece."""
    with Image.open(path) as im:
        im.draft(mode, PREVIEW)
        im.load()
        out = im.resize(PREVIEW, RESAMPLE, reducing_gap=REDUCING_GAP)
    return out.transpose(transpose) if transpose is not None else out


def while_decoding(path: Path, transpose: Image.Transpose | None, mode: str = "RGB"):
    with Image.open(path) as im:
        im.draft(mode, PREVIEW)
        return banded_resize.decode_resize_upright(im, PREVIEW, RESAMPLE, REDUCING_GAP, transpose)


def largest_difference(a: Image.Image, b: Image.Image) -> int:
    assert (a.mode, a.size) == (b.mode, b.size)
    extrema = ImageChops.difference(a, b).getextrema()
    per_band = extrema if a.getbands() != ("L",) else (extrema,)
    return max(high for _, high in per_band)


@pytest.mark.parametrize(
    "transpose",
    [None, Image.Transpose.ROTATE_270, Image.Transpose.ROTATE_180, Image.Transpose.TRANSPOSE],
)
def test_bands_made_while_decoding_are_the_photo_s_own_rows(write: Write, transpose) -> None:
    # A band begun before its rows were decoded would show noise or black: far more than the
    # +-2 levels by which a band's edge rounds differently from a resize in one piece.
    path = write(camera_like_file("JPEG", SIZE, quality=90))
    out, early = while_decoding(path, transpose)
    assert early >= banded_resize.DECODING_BANDS // 2  # most of the work overlapped the decode
    assert largest_difference(out, after_the_decode(path, transpose)) <= 2


def test_a_photo_scaled_down_while_decoding_too(write: Write) -> None:
    # 3400 px: libjpeg decodes at half scale (1700 px), the bands take it to 1600.
    path = write(encode(camera_like((3400, 2550), seed=1), "JPEG", quality=85))
    with Image.open(path) as im:
        im.draft("RGB", PREVIEW)
        assert im.size == (1700, 1275)
    out, early = while_decoding(path, None)
    assert early > 0
    assert largest_difference(out, after_the_decode(path, None)) <= 2


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grey_and_cmyk_photos_are_banded_in_their_own_mode(write: Write, mode: str) -> None:
    im = camera_like(SIZE, seed=2).convert(mode)
    path = write(encode(im, "JPEG", quality=90))
    out, early = while_decoding(path, None, mode)
    assert out.mode == mode
    assert early > 0
    assert largest_difference(out, after_the_decode(path, None, mode)) <= 2


def test_a_progressive_jpeg_s_rows_come_at_the_end_and_are_waited_for(write: Write) -> None:
    # libjpeg writes no row of a progressive JPEG before its last scan: no band may begin.
    path = write(encode(camera_like(SIZE, seed=3), "JPEG", quality=90, progressive=True))
    out, early = while_decoding(path, None)
    assert early == 0
    assert largest_difference(out, after_the_decode(path, None)) <= 2


def test_a_truncated_jpeg_is_refused_as_damaged_as_before(write: Write) -> None:
    # Its top bands began while it decoded; the decode's own error is what comes out.
    data = camera_like_file("JPEG", SIZE, quality=90)
    path = write(data[: len(data) * 2 // 3])
    with Image.open(path) as im:
        im.draft("RGB", PREVIEW)
        with pytest.raises(OSError, match="truncated"):
            banded_resize.decode_resize_upright(im, PREVIEW, RESAMPLE, REDUCING_GAP)
        assert "load_read" not in vars(im)  # Pillow's own reading again
    # The threads are free for the next photo.
    assert banded_resize.POOL.submit(lambda: "free").result(timeout=5) == "free"


# The two facts the overlap rests on, each checked against Pillow itself: a band does not read
# below the row it waits for, and a row the watch calls written is final.


@pytest.mark.parametrize(
    ("source", "size"),
    [
        ((1700, 1275), PREVIEW),  # a JPEG at its draft scale: a slight shrink
        ((2400, 1800), PREVIEW),  # 1.5x
        ((4800, 3600), PREVIEW),  # 3x: a reduce() by 2 first (REDUCING_GAP), then bicubic
    ],
)
def test_a_band_reads_no_row_below_the_one_it_waits_for(source, size) -> None:
    clean = camera_like(source, seed=4)
    plan = banded_resize._Plan(clean, size, RESAMPLE, REDUCING_GAP, None, None)
    for top, bottom in [(0, 150), (150, 300), (600, 750), (1050, 1200)]:
        last = plan.last_row_needed(bottom)
        below = Image.new("RGB", (source[0], source[1] - last - 1), (255, 0, 255))
        spoiled = clean.copy()
        spoiled.paste(below, (0, last + 1))  # what is not decoded yet: anything at all
        other = banded_resize._Plan(spoiled, size, RESAMPLE, REDUCING_GAP, None, None)
        assert (
            plan.resample_band(top, bottom).tobytes() == other.resample_band(top, bottom).tobytes()
        )


def test_a_row_the_watch_calls_written_is_final(write: Write) -> None:
    path = write(camera_like_file("JPEG", SIZE, quality=90))
    with Image.open(path) as done:
        done.load()
        final = [done.crop((0, row, SIZE[0], row + 1)).tobytes() for row in range(SIZE[1])]
    rows = range(0, SIZE[1], 50)
    seen_midway = []
    with Image.open(path) as im:
        im.load_prepare()
        watch = banded_resize._RowWatch(im.im, rows)
        pixels = im._new(im.im)
        read = im.load_read

        def read_and_look(count: int) -> bytes:
            written = [row for row in rows if watch.written(row)]
            for row in written:
                assert pixels.crop((0, row, SIZE[0], row + 1)).tobytes() == final[row]
            if written and len(written) < len(rows):
                seen_midway.append(len(written))
            return read(count)

        im.load_read = read_and_look
        im.load()
    assert len(seen_midway) > 5  # rows were seen arriving, not only at the end
    assert seen_midway == sorted(seen_midway)  # from the top down
