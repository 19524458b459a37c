"""process_photo: which photos are accepted, what their derivatives look like, what is refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from contest.media import Rejected
from contest.media.photo import Derivative, Photo, process_photo, run_job

from ..media_cache import bytes_made_once
from .imagegen import (
    BLUE,
    GREEN,
    RED,
    camera_like,
    camera_like_file,
    encode,
    png_header_only,
    quadrants,
    swapped_primaries_profile,
)

Write = Callable[..., Path]

UNSUPPORTED = "지원하지 않는 파일 형식입니다. JPG, PNG, WebP, HEIC 사진만 올릴 수 있습니다."
DAMAGED = "파일이 손상되었거나 전송 중에 잘렸습니다. 다시 보내 주세요."
TOO_LARGE = "사진 해상도가 너무 큽니다 (최대 1억 화소)."


def reopen(derivative: Derivative) -> Image.Image:
    """Decode a derivative, checking that it really is the JPEG it says."""
    im = Image.open(io.BytesIO(derivative.data))
    assert im.format == "JPEG"
    assert derivative.content_type == "image/jpeg"
    assert derivative.extension == ".jpg"
    assert im.size == (derivative.width, derivative.height)
    im.load()
    return im


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    """Whether two colours match within JPEG's error."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def assert_clean(derivative: Derivative) -> None:
    """A derivative carries no metadata at all: no EXIF, ICC profile or comment."""
    im = reopen(derivative)
    for key in ("exif", "icc_profile", "comment", "xmp"):
        assert key not in im.info
    assert b"Exif" not in derivative.data
    assert b"ICC_PROFILE" not in derivative.data
    assert b"http://ns.adobe.com/xap" not in derivative.data


def rejected(path: Path, **limits: int) -> Rejected:
    """Run process_photo on a file it must refuse, and return the refusal."""
    with pytest.raises(Rejected) as caught:
        process_photo(path, **limits)
    return caught.value


# Accepted formats


@pytest.mark.parametrize(
    ("fmt", "params", "expected_format", "extension", "content_type"),
    [
        ("JPEG", {"quality": 90}, "JPEG", ".jpg", "image/jpeg"),
        ("PNG", {}, "PNG", ".png", "image/png"),
        ("WEBP", {"quality": 90}, "WEBP", ".webp", "image/webp"),
        ("HEIF", {"quality": 80}, "HEIF", ".heic", "image/heic"),
    ],
)
def test_accepts_each_format(
    write: Write,
    fmt: str,
    params: dict[str, object],
    expected_format: str,
    extension: str,
    content_type: str,
) -> None:
    # HEVC-encoding noise takes over a second: the HEIC gets the test card instead.
    if fmt == "HEIF":
        data = encode(quadrants((1200, 900)), fmt, **params)
    else:
        data = camera_like_file(fmt, (1200, 900), **params)
    photo = process_photo(write(data))
    assert isinstance(photo, Photo)
    assert (photo.format, photo.extension, photo.content_type) == (
        expected_format,
        extension,
        content_type,
    )
    assert (photo.width, photo.height) == (1200, 900)
    # Never enlarged: a photo under 1600 px keeps its size in the preview.
    assert (photo.preview.width, photo.preview.height) == (1200, 900)
    assert (photo.thumbnail.width, photo.thumbnail.height) == (480, 360)
    assert reopen(photo.preview).mode == "RGB"
    assert_clean(photo.preview)
    assert_clean(photo.thumbnail)


def test_large_jpeg_preview_is_1600_and_thumbnail_480(write: Write) -> None:
    # 3200x2400 is decoded at half scale (draft) and must still give an exact 1600x1200.
    photo = process_photo(write(encode(camera_like((3200, 2400)), "JPEG", quality=80)))
    assert (photo.width, photo.height) == (3200, 2400)
    assert (photo.preview.width, photo.preview.height) == (1600, 1200)
    assert (photo.thumbnail.width, photo.thumbnail.height) == (480, 360)


def test_large_jpeg_is_decoded_at_reduced_scale(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[tuple[int, int]] = []
    original_load = Image.Image.load

    def spy_load(self: Image.Image):  # type: ignore[no-untyped-def]
        result = original_load(self)
        decoded.append(self.size)
        return result

    path = write(encode(camera_like((3300, 2475)), "JPEG", quality=80))
    monkeypatch.setattr(Image.Image, "load", spy_load)
    # The decode runs in a child (photo_worker): spy on the child's side, run here.
    run_job({"op": "photo", "path": str(path)})
    assert decoded and max(decoded) == (1650, 1238)


def test_portrait_preview_keeps_aspect(write: Write) -> None:
    photo = process_photo(write(encode(camera_like((1000, 2000)), "JPEG")))
    assert (photo.preview.width, photo.preview.height) == (800, 1600)
    assert (photo.thumbnail.width, photo.thumbnail.height) == (240, 480)


def test_png_alpha_is_composited_on_white(write: Write) -> None:
    im = Image.new("RGBA", (1200, 900), (0, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 450, 1200, 900))
    photo = process_photo(write(encode(im, "PNG")))
    preview = reopen(photo.preview)
    assert close_to(preview.getpixel((600, 100)), (255, 255, 255), 8)
    assert close_to(preview.getpixel((600, 800)), BLUE)


def test_palette_png_with_transparency(write: Write) -> None:
    im = Image.new("P", (1200, 900), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    im.paste(1, (0, 450, 1200, 900))
    photo = process_photo(write(encode(im, "PNG", transparency=0)))
    preview = reopen(photo.preview)
    assert close_to(preview.getpixel((600, 100)), (255, 255, 255), 8)
    assert close_to(preview.getpixel((600, 800)), RED)


def test_16_bit_greyscale_png_keeps_its_tones(write: Write) -> None:
    # Mid-grey in 16 bits is 32768: a clipping conversion would turn it white.
    im = Image.new("I;16", (1200, 900), 32768)
    photo = process_photo(write(encode(im, "PNG")))
    assert photo.format == "PNG"
    assert close_to(reopen(photo.preview).getpixel((600, 450)), (128, 128, 128), 4)


def test_heic_orientation_is_applied_once(write: Write) -> None:
    # pillow-heif writes the EXIF Orientation as a HEIF rotation box (irot) and libheif applies
    # it when decoding; applying EXIF on top would turn the photo a second time.
    upright = quadrants((1200, 900))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = process_photo(write(encode(stored, "HEIF", quality=90, exif=exif.tobytes())))
    assert (photo.width, photo.height) == (1200, 900)
    preview = reopen(photo.preview)
    assert preview.size == (1200, 900)
    assert close_to(preview.getpixel((150, 150)), RED)
    assert close_to(preview.getpixel((1050, 150)), GREEN)
    assert close_to(preview.getpixel((600, 800)), BLUE)


def test_a_tiled_heic_as_iphones_write_it_is_decoded_whole(write: Write) -> None:
    # An iPhone stores its photo as a grid of 512 px HEVC tiles (here 3 x 2 of them), which
    # libheif decodes on several threads and joins: every tile lands in its place.
    photo = process_photo(write(encode(quadrants((1200, 900)), "HEIF", quality=90, tile_size=512)))
    assert (photo.format, photo.width, photo.height) == ("HEIF", 1200, 900)
    preview = reopen(photo.preview)
    assert preview.size == (1200, 900)
    assert close_to(preview.getpixel((150, 150)), RED)
    assert close_to(preview.getpixel((1050, 150)), GREEN)
    assert close_to(preview.getpixel((600, 800)), BLUE)
    assert close_to(preview.getpixel((1150, 850)), BLUE)  # the last, partly filled tile


def test_mpo_uses_the_first_frame(write: Write) -> None:
    first = quadrants((1200, 900))
    second = Image.new("RGB", (1200, 900), (255, 255, 0))
    data = encode(first, "MPO", save_all=True, append_images=[second], quality=90)
    assert Image.open(io.BytesIO(data)).format == "MPO"
    photo = process_photo(write(data))
    assert (photo.format, photo.extension, photo.content_type) == ("MPO", ".jpg", "image/jpeg")
    preview = reopen(photo.preview)
    assert close_to(preview.getpixel((150, 150)), RED)
    assert close_to(preview.getpixel((600, 800)), BLUE)


_INVERSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_an_upright_derivative(write: Write, orientation: int) -> None:
    # Store the pixels the way a camera held sideways would, and say so in the EXIF tag.
    upright = quadrants((1200, 900))
    inverse = _INVERSE[orientation]
    stored = upright.transpose(inverse) if inverse is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = process_photo(write(encode(stored, "JPEG", quality=95, exif=exif.tobytes())))
    assert (photo.width, photo.height) == (1200, 900)
    for derivative, scale in ((photo.preview, 1), (photo.thumbnail, 0.4)):
        im = reopen(derivative)
        assert im.size == (round(1200 * scale), round(900 * scale))
        assert close_to(im.getpixel((int(150 * scale), int(150 * scale))), RED)
        assert close_to(im.getpixel((int(1050 * scale), int(150 * scale))), GREEN)
        assert close_to(im.getpixel((int(600 * scale), int(800 * scale))), BLUE)
        assert "exif" not in im.info  # the tag is gone: nobody rotates it again


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_of_a_photo_that_is_resized(write: Write, orientation: int) -> None:
    # Above 1600 px the preview is resampled in bands, each turned upright on its own.
    upright = quadrants((2000, 1500))
    inverse = _INVERSE[orientation]
    stored = upright.transpose(inverse) if inverse is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = process_photo(write(encode(stored, "JPEG", quality=95, exif=exif.tobytes())))
    assert (photo.width, photo.height) == (2000, 1500)
    im = reopen(photo.preview)
    assert im.size == (1600, 1200)
    # A grid over the whole preview: a band pasted in the wrong place or order shows up.
    for x in range(10, 1600, 45):
        for y in range(10, 1200, 45):
            if abs(x - 800) < 12 or abs(y - 600) < 12:
                continue  # on a colour edge, where JPEG blurs
            expected = BLUE if y > 600 else RED if x < 800 else GREEN
            assert close_to(im.getpixel((x, y)), expected), (x, y)


def test_cmyk_jpeg_comes_out_rgb_with_the_right_colour(write: Write) -> None:
    im = Image.new("CMYK", (1200, 900), (0, 255, 255, 0))  # pure red in CMYK
    data = encode(im, "JPEG", quality=95)
    assert b"Adobe" in data  # Pillow writes the Adobe marker: inverted CMYK, as Photoshop does
    photo = process_photo(write(data))
    preview = reopen(photo.preview)
    assert preview.mode == "RGB"
    assert close_to(preview.getpixel((600, 450)), RED)


def test_embedded_icc_profile_is_converted_to_srgb(write: Write) -> None:
    # Under a profile whose red and blue primaries are swapped, stored red means blue.
    im = Image.new("RGB", (1200, 900), RED)
    photo = process_photo(write(encode(im, "PNG", icc_profile=swapped_primaries_profile())))
    preview = reopen(photo.preview)
    assert close_to(preview.getpixel((600, 450)), BLUE, 60)
    assert_clean(photo.preview)


def test_a_large_photo_s_profile_is_applied_to_every_band_once_reduced(write: Write) -> None:
    # 12 MP, turned by EXIF: reduced, turned and colour-converted in bands on several threads.
    exif = Image.Exif()
    exif[0x0112] = 6
    im = Image.new("RGB", (4032, 3024), RED)
    data = encode(im, "PNG", icc_profile=swapped_primaries_profile(), exif=exif.tobytes())
    photo = process_photo(write(data))
    preview = reopen(photo.preview)
    assert preview.size == (1200, 1600)
    for y in (0, 400, 799, 800, 1200, 1599):  # both bands and the seam between them
        for x in (0, 600, 1199):
            assert close_to(preview.getpixel((x, y)), BLUE, 60), (x, y)
    assert close_to(reopen(photo.thumbnail).getpixel((180, 240)), BLUE, 60)


def test_display_p3_like_green_is_mapped_into_srgb(write: Write) -> None:
    # The same conversion through a standard profile: an sRGB-tagged photo keeps its colours.
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im = Image.new("RGB", (1200, 900), (40, 160, 90))
    photo = process_photo(write(encode(im, "JPEG", quality=95, icc_profile=srgb)))
    assert close_to(reopen(photo.preview).getpixel((600, 450)), (40, 160, 90), 6)


def test_broken_icc_profile_does_not_refuse_the_photo(write: Write) -> None:
    im = Image.new("RGB", (1200, 900), RED)
    photo = process_photo(write(encode(im, "JPEG", quality=95, icc_profile=b"not a profile" * 10)))
    assert close_to(reopen(photo.preview).getpixel((600, 450)), RED)


def exif_with_gps() -> Image.Exif:
    """EXIF as a phone writes it: camera, capture time and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "Canon\x00  "  # Make, padded as some cameras do
    exif[0x0110] = " Canon EOS R6 "  # Model
    exif[0x0132] = "2024:06:01 09:00:00"  # DateTime (last edit)
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 14:03:22"  # DateTimeOriginal
    exif[0x8825] = {1: "N", 2: (37.0, 33.0, 59.0), 3: "E", 4: (126.0, 58.0, 40.0)}
    return exif


def test_gps_and_metadata_never_reach_the_derivatives(write: Write) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(
        camera_like((1200, 900)),
        "JPEG",
        quality=90,
        exif=exif_with_gps().tobytes(),
        icc_profile=srgb,
        comment=b"secret comment",
    )
    assert b"Exif" in data and b"secret comment" in data
    photo = process_photo(write(data))
    assert photo.captured_at == datetime(2024, 5, 1, 14, 3, 22)
    assert photo.camera_make == "Canon"
    assert photo.camera_model == "Canon EOS R6"
    for derivative in (photo.preview, photo.thumbnail):
        assert_clean(derivative)
        assert b"secret comment" not in derivative.data


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_gps_is_dropped_from_png_and_webp_too(write: Write, fmt: str) -> None:
    data = encode(camera_like((1200, 900)), fmt, exif=exif_with_gps().tobytes())
    photo = process_photo(write(data))
    assert photo.camera_make == "Canon"
    assert_clean(photo.preview)


def test_capture_time_falls_back_to_datetime(write: Write) -> None:
    exif = Image.Exif()
    exif[0x0132] = "2023:12:24 18:30:00"
    photo = process_photo(write(encode(camera_like(), "JPEG", exif=exif.tobytes())))
    assert photo.captured_at == datetime(2023, 12, 24, 18, 30)
    assert photo.camera_make is None and photo.camera_model is None


def test_unparsable_or_missing_metadata_is_none(write: Write) -> None:
    exif = Image.Exif()
    exif[0x0132] = "0000:00:00 00:00:00"
    exif[0x010F] = "   "
    photo = process_photo(write(encode(camera_like(), "JPEG", exif=exif.tobytes())))
    assert photo.captured_at is None
    assert photo.camera_make is None
    plain = process_photo(write(encode(camera_like(), "JPEG"), "plain.jpg"))
    assert (plain.captured_at, plain.camera_make, plain.camera_model) == (None, None, None)


def test_html_appended_to_a_jpeg_does_not_reach_the_derivative(write: Write) -> None:
    data = encode(camera_like(), "JPEG") + b"<html><script>alert(1)</script></html>"
    photo = process_photo(write(data))
    assert b"<script" not in photo.preview.data and b"<script" not in photo.thumbnail.data


# Sizes


@pytest.mark.parametrize("side", [20000, 12000])
def test_header_only_png_bomb_is_refused_without_decoding(write: Write, side: int) -> None:
    # The file holds no pixel data: decoding would say "damaged", not "too large".
    why = rejected(write(png_header_only(side, side)))
    assert (why.status, why.message) == (422, TOO_LARGE)


def test_own_pixel_cap_below_pillows(write: Write) -> None:
    why = rejected(write(png_header_only(8000, 8000)), max_pixels=50_000_000)
    assert (why.status, why.message) == (422, "사진 해상도가 너무 큽니다 (최대 5000만 화소).")


def test_image_under_min_long_side_is_refused(write: Write) -> None:
    why = rejected(write(encode(camera_like((640, 480)), "JPEG")))
    assert why.status == 422
    assert why.message == (
        "사진이 너무 작습니다: 긴 변이 최소 1000픽셀이어야 합니다 (올린 사진 640픽셀)."
    )


def test_min_long_side_comes_from_the_argument(write: Write) -> None:
    path = write(encode(camera_like((640, 480)), "JPEG"))
    assert process_photo(path, min_long_side=600).width == 640
    assert "최소 2000픽셀" in rejected(path, min_long_side=2000).message


@pytest.mark.parametrize("size", [(0, 1200), (1200, 0), (0, 0)])
def test_zero_sized_image_is_refused(write: Write, size: tuple[int, int]) -> None:
    why = rejected(write(png_header_only(*size)))
    assert why.status == 422


def test_extreme_strip_is_refused(write: Write) -> None:
    why = rejected(write(png_header_only(65535, 1)))
    assert why.status == 422
    assert "길쭉" in why.message


# Damaged files


@pytest.mark.parametrize(
    ("fmt", "size"),
    [("JPEG", (1200, 900)), ("JPEG", (3200, 2400)), ("PNG", (1200, 900)), ("WEBP", (1200, 900))],
)
def test_file_cut_in_half_is_refused(write: Write, fmt: str, size: tuple[int, int]) -> None:
    data = camera_like_file(fmt, size)
    why = rejected(write(data[: len(data) // 2]))
    assert (why.status, why.message) == (422, DAMAGED)


def test_progressive_jpeg_cut_in_half_is_refused(write: Write) -> None:
    data = encode(camera_like((1200, 900)), "JPEG", progressive=True)
    why = rejected(write(data[: len(data) // 2]))
    assert (why.status, why.message) == (422, DAMAGED)


def test_png_with_corrupt_pixel_data_is_refused(write: Write) -> None:
    data = bytearray(camera_like_file("PNG", (1200, 900)))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    why = rejected(write(bytes(data)))
    assert (why.status, why.message) == (422, DAMAGED)


def test_jpeg_with_only_a_header_is_damaged_not_unsupported(write: Write) -> None:
    data = encode(camera_like((1200, 900)), "JPEG")
    why = rejected(write(data[:300]))
    assert (why.status, why.message) == (422, DAMAGED)


@pytest.fixture(scope="module")
def heic(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One HEIC photo for the damage tests (HEVC encoding is the slow part): encoded once per
    run, for every worker (tests/media_cache.py)."""
    return bytes_made_once(tmp_path_factory, "damage-tests-heic", _damage_test_heic)


def _damage_test_heic() -> bytes:
    return encode(quadrants((1200, 900)), "HEIF", quality=60)


def test_heic_cut_in_the_middle_is_refused(write: Write, heic: bytes) -> None:
    data = heic
    # libheif would decode this without an error: the box walk is what catches it.
    why = rejected(write(data[: len(data) * 2 // 3]))
    assert (why.status, why.message) == (422, DAMAGED)


def test_heic_with_trailing_bytes_is_refused(write: Write, heic: bytes) -> None:
    why = rejected(write(heic + b"\x00\x00\x00"))
    assert (why.status, why.message) == (422, DAMAGED)


# Unsupported kinds


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    ftyp = (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body
    mdat = (8 + 32).to_bytes(4, "big") + b"mdat" + bytes(32)
    return ftyp + mdat


UNSUPPORTED_FILES: dict[str, Callable[[], bytes]] = {
    "gif": lambda: encode(camera_like().convert("P"), "GIF"),
    "tiff": lambda: encode(camera_like(), "TIFF"),
    "bmp": lambda: encode(camera_like(), "BMP"),
    "avif": lambda: encode(camera_like(), "AVIF"),
    "svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>',
    "html": lambda: b"<!doctype html><html><script>alert(1)</script></html>",
    "pdf": lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "zip": _zip,
    "exe": lambda: b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200),
    "text": lambda: "사진입니다\n".encode() * 20,
    "mp4": lambda: _ftyp(b"isom", b"isom", b"mp42"),
    "avif-brands": lambda: _ftyp(b"avif", b"mif1", b"miaf"),
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED_FILES))
def test_unsupported_kinds_are_refused_with_415(write: Write, kind: str) -> None:
    why = rejected(write(UNSUPPORTED_FILES[kind](), f"upload.{kind}"))
    assert (why.status, why.message) == (415, UNSUPPORTED)


def test_empty_file_is_refused_with_400(write: Write) -> None:
    why = rejected(write(b""))
    assert (why.status, why.message) == (400, "파일이 비어 있습니다.")
