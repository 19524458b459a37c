"""The purge also strips location, owner and serial tags from the originals it keeps.

A kept original (a winner's; a non-winner's without --originals) is rewritten without them,
its pictures untouched; --winners-originals deletes the winners' instead; the backups taken
before the purge are listed so the operator can destroy them.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import av
import pillow_heif
import pytest
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

from contest.core.extensions import db
from contest.media.personal_tags import Unreadable, strip_photo
from contest.models import Entry
from contest.storage import get_storage

from .camera_tags import PERSONAL_STRINGS, XMP, camera_exif, camera_jpeg, marked_picture
from .media.imagegen import encode
from .media.videogen import vertical_iphone_like
from .media_cache import made_once
from .test_awards import set_published
from .test_public_copies import CLIP_TAGS, replace_original
from .test_winners import award

PURGE = ["purge-personal-data", "--before", "2027-01-11"]


def camera_png() -> bytes:
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_text("Author", "Hong Gildong")
    out = io.BytesIO()
    marked_picture().save(out, "PNG", exif=camera_exif(), pnginfo=info)
    return out.getvalue()


def camera_heic() -> bytes:
    pillow_heif.register_heif_opener()
    return encode(marked_picture(), "HEIF", exif=camera_exif().tobytes(), xmp=XMP, quality=80)


def camera_webp() -> bytes:
    out = io.BytesIO()
    marked_picture().save(out, "WEBP", exif=camera_exif(6).tobytes(), xmp=XMP)
    return out.getvalue()


# name: (media format, winner?)
_FILES = {
    "jpeg": ("JPEG", True),
    "heic": ("HEIF", True),
    "video": ("mov", True),
    "webp": ("WEBP", True),
    "broken": ("JPEG", True),
    "png": ("PNG", False),  # a non-winner's, kept without --originals
}


def _make_files(folder: Path) -> None:
    vertical_iphone_like(folder / "video.mov", seconds=1.5, metadata=CLIP_TAGS)
    (folder / "video.mov").rename(folder / "video")
    (folder / "jpeg").write_bytes(camera_jpeg(orientation=6))
    (folder / "heic").write_bytes(camera_heic())
    (folder / "webp").write_bytes(camera_webp())
    (folder / "broken").write_bytes(camera_jpeg()[:50_000])  # cut off: its scan never ends
    (folder / "png").write_bytes(camera_png())


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, tuple[str, bytes, bool]]:
    """name: (media format, original, winner?), made once for the test run."""
    folder = made_once(tmp_path_factory, "purge-originals-files", _make_files)
    return {
        name: (media_format, (folder / name).read_bytes(), winner)
        for name, (media_format, winner) in _FILES.items()
    }


@pytest.fixture
def kept(app, make_entry, files) -> dict[str, tuple[int, bytes]]:
    """Winners in four formats and a broken one, a non-winner, all full of personal tags."""
    ids = {}
    for name, (media_format, data, winner) in files.items():
        kind = "video" if name == "video" else "photo"
        entry_id = make_entry(title=name, kind=kind, media_format=media_format)
        replace_original(app, entry_id, data)
        if winner:
            award(app, entry_id, "silver", len(ids) + 1)
        ids[name] = (entry_id, data)
    set_published(app, True)
    return ids


def stored_original(app, entry_id: int) -> tuple[str, bytes, Entry] | None:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        original = entry.asset("original")
        if original is None:
            return None
        with get_storage().open(original.key) as f:
            data = f.read()
        assert original.size == len(data)
        db.session.expunge(entry)
        return original.key, data, entry


def pixels(data: bytes) -> bytes:
    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB").tobytes()


@pytest.mark.parametrize("name", ["jpeg", "heic", "png", "webp"])
def test_kept_photos_lose_place_owner_and_serials_and_keep_their_pixels(app, runner, kept, name):
    entry_id, sent = kept[name]
    old_key = stored_original(app, entry_id)[0]
    result = runner.invoke(args=PURGE)
    assert result.exit_code == 0, result.output
    key, data, entry = stored_original(app, entry_id)
    assert key != old_key
    with app.app_context():
        assert not get_storage().exists(old_key)  # the file as sent is gone
    for personal in PERSONAL_STRINGS:
        assert personal not in data
    assert b"xmpmeta" not in data
    assert pixels(data) == pixels(sent)
    pillow_heif.register_heif_opener()
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        assert ExifTags.IFD.GPSInfo not in exif
        assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert exif.get(ExifTags.Base.Make) == "Canon"  # not personal: kept
        if name in ("jpeg", "webp"):
            assert exif.get(ExifTags.Base.Orientation) == 6  # still shown upright
    # The entry follows its file, so backups, restores and doctor still check it.
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    assert entry.file_size == len(data)


def packets(data: bytes, tmp_path: Path) -> tuple[list[bytes], dict, int]:
    path = tmp_path / "clip.mov"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        video = [bytes(p) for p in container.demux(video=0) if p.size]
        tags = dict(container.metadata)
    with av.open(str(path)) as container:
        rotation = next(container.decode(video=0)).rotation
    return video, tags, rotation


def test_a_kept_video_is_remuxed_without_tags_its_pictures_untouched(app, runner, kept, tmp_path):
    entry_id, sent = kept["video"]
    assert runner.invoke(args=PURGE).exit_code == 0
    _, data, _ = stored_original(app, entry_id)
    before, sent_tags, sent_rotation = packets(sent, tmp_path)
    after, tags, rotation = packets(data, tmp_path)
    assert "location" in sent_tags
    assert not {"location", "artist", "title", "creation_time", "encoder"} & set(tags)
    assert b"+37.5665" not in data and b"Hong Gildong" not in data
    assert after == before
    assert rotation == sent_rotation != 0  # the phone's vertical clip stays vertical


def test_a_file_it_cannot_walk_is_listed_and_a_second_run_changes_nothing(app, runner, kept):
    entry_id, sent = kept["broken"]
    first = runner.invoke(args=PURGE)
    with app.app_context():
        receipt = db.session.get(Entry, entry_id).receipt_display
    assert f"could not strip the tags of {receipt}'s original" in first.output
    assert "from 5 kept originals" in first.output
    assert stored_original(app, entry_id)[1] == sent
    keys = {name: stored_original(app, i)[0] for name, (i, _) in kept.items()}
    second = runner.invoke(args=PURGE)
    assert "from 0 kept originals" in second.output
    assert keys == {name: stored_original(app, i)[0] for name, (i, _) in kept.items()}
    assert runner.invoke(args=["doctor"]).exit_code == 0


def test_winners_originals_flag_deletes_them_instead(app, runner, kept):
    result = runner.invoke(args=[*PURGE, "--winners-originals"])
    assert result.exit_code == 0, result.output
    assert "deleted 5 original files" in result.output
    for name, (entry_id, _) in kept.items():
        if name != "png":
            assert stored_original(app, entry_id) is None
    # The non-winner's stays (no --originals), stripped.
    assert b"Hong Gildong" not in stored_original(app, kept["png"][0])[1]


def test_backups_taken_before_the_purge_are_listed_to_destroy(app, runner, kept, tmp_path):
    assert "No backup was recorded" in runner.invoke(args=PURGE).output
    folder = tmp_path / "before-purge"
    backup = runner.invoke(args=["backup", "--out", str(folder)])
    assert backup.exit_code == 0, backup.output
    result = runner.invoke(args=PURGE)
    assert "Backups taken before this purge still hold the erased data" in result.output
    assert str(folder.resolve()) in result.output


def test_exif_that_pillow_cannot_read_is_unreadable_not_a_crash():
    with pytest.raises(Unreadable):
        strip_photo(b"\xff\xd8\xff\xe1\x00\x0eExif\x00\x00MM\x00*\xff\xd9", "JPEG")
