"""winners-public.zip: clean copies of the published winners' works for the press.

Photos come out as upright JPEGs with no EXIF, XMP, ICC, comment, GPS, owner or serial;
videos as H.264 MP4s with only their video and audio streams, no tags, no location atom,
the index first. Checked with Pillow and PyAV (Debian's ffprobe is not installed here: PyAV
reads the same libavformat). Names carry no personal data; the winners page and /media
serve derivatives only.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import av
import pytest
from PIL import Image

from contest.core.extensions import db
from contest.media.video import make_playback
from contest.models import Asset, AuditLog, Entry
from contest.services import zoom
from contest.storage import get_storage

from .camera_tags import PERSONAL_STRINGS, camera_jpeg
from .media.videogen import vertical_iphone_like, write_clip
from .media_cache import made_once
from .test_awards import set_published
from .test_winners import award

CLIP_TAGS = {"location": "+37.5665+126.9780/", "artist": "Hong Gildong", "title": "at home"}
# What the MP4 muxer writes about the file's structure; anything else is a tag.
STRUCTURAL = {"major_brand", "minor_version", "compatible_brands"}
STREAM_STRUCTURAL = {"language", "handler_name", "vendor_id"}


def replace_original(app, entry_id: int, data: bytes) -> None:
    """Store `data` as the entry's original, with the size and hash an upload records."""
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        original = entry.asset("original")
        storage = get_storage()
        storage.delete(original.key)  # storage never overwrites a key
        storage.put(data, original.key)
        original.size = entry.file_size = len(data)
        entry.sha256 = hashlib.sha256(data).hexdigest()
        db.session.commit()


def add_playback(app, entry_id: int, path: Path) -> str:
    with app.app_context():
        storage = get_storage()
        key = storage.new_key("derived", ".mp4")
        storage.put(path.read_bytes(), key)
        entry = db.session.get(Entry, entry_id)
        entry.assets.append(
            Asset(role="playback", key=key, content_type="video/mp4", size=path.stat().st_size)
        )
        entry.playback_status = "ready"
        db.session.commit()
        return key


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """A playback copy with tags (an older or remuxed copy) and one made by make_playback,
    encoded once per run (tests/media_cache.py)."""
    folder = made_once(tmp_path_factory, "public-copies-clips", _make_clips)
    return {"tagged": folder / "tagged.mp4", "made": folder / "made.mp4"}


def _make_clips(folder: Path) -> None:
    write_clip(folder / "tagged.mp4", seconds=1.5, metadata=CLIP_TAGS)
    phone = vertical_iphone_like(folder / "phone.mov", seconds=1.5, metadata=CLIP_TAGS)
    make_playback(phone, folder / "made.mp4", timeout=120, max_seconds=5)


@pytest.fixture
def works(app, make_entry, clips) -> dict[str, int]:
    """Published winners: a sideways camera photo, two videos, one winner without consent."""
    ids = {
        "photo": make_entry(title="남산의 아침", entrant_name="홍길동", consent_publish=True),
        "tagged": make_entry(
            title="파도", kind="video", entrant_name="김파도", consent_publish=True
        ),
        "made": make_entry(
            title="골목길", kind="video", entrant_name="이골목", consent_publish=True
        ),
        "private": make_entry(title="비공개 수상작", entrant_name="박비공", consent_publish=False),
        "loser": make_entry(title="낙선작", entrant_name="최낙선", consent_publish=True),
    }
    replace_original(app, ids["photo"], camera_jpeg(orientation=6))
    add_playback(app, ids["tagged"], clips["tagged"])
    add_playback(app, ids["made"], clips["made"])
    award(app, ids["photo"], "grand", 1)
    award(app, ids["private"], "silver", 1)
    award(app, ids["tagged"], "grand", 1)
    award(app, ids["made"], "gold", 1)
    set_published(app, True)
    return ids


def download(client) -> zipfile.ZipFile:
    response = client.get("/admin/export/winners-public.zip")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="winners-public.zip"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_streamed
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def member(archive: zipfile.ZipFile, suffix: str, title: str) -> bytes:
    (name,) = [n for n in archive.namelist() if n.endswith(suffix) and title in n]
    return archive.read(name)


def test_photos_are_upright_jpegs_without_any_metadata(app, client, admin, works):
    with download(client) as archive:
        data = member(archive, ".jpg", "남산의-아침")
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        # Orientation 6: stored 1200 x 900, shown turned a quarter clockwise.
        assert im.size == (900, 1200)
        assert len(im.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(im.info)
        rgb = im.convert("RGB")
        # The red square of the stored top-left corner is now top right.
        red, green, blue = rgb.getpixel((900 - 40, 40))
        assert red > 200 and green < 60 and blue < 60
        assert rgb.getpixel((40, 40))[1] > 60
    assert b"Exif\x00\x00" not in data
    assert b"xmpmeta" not in data and b"http://ns.adobe.com/xap/1.0/" not in data
    for personal in PERSONAL_STRINGS:
        assert personal not in data


def probe(data: bytes, tmp_path: Path) -> dict:
    path = tmp_path / "copy.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return {
            "tags": set(container.metadata) - STRUCTURAL,
            "streams": sorted(s.type for s in container.streams),
            "stream_tags": [set(s.metadata) - STREAM_STRUCTURAL for s in container.streams],
            "video_codec": container.streams.video[0].codec_context.name,
            "frames": sum(1 for _ in container.decode(video=0)),
        }


@pytest.mark.parametrize("which", ["파도", "골목길"])
def test_videos_are_h264_mp4s_with_pictures_and_sound_only(
    app, client, admin, works, which, tmp_path
):
    with download(client) as archive:
        data = member(archive, ".mp4", which)
    facts = probe(data, tmp_path)
    assert facts["tags"] == set()
    assert facts["streams"] == ["audio", "video"]
    assert facts["stream_tags"] == [set(), set()]
    assert facts["video_codec"] == "h264"
    assert facts["frames"] > 10
    for atom in (b"\xa9xyz", b"loci", b"+37.5665", b"Hong Gildong", b"at home", b"Lavf"):
        assert atom not in data
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: plays while it downloads


def test_a_clean_playback_copy_is_sent_as_it_is(app, client, admin, works, clips):
    with download(client) as archive:
        assert member(archive, ".mp4", "골목길") == clips["made"].read_bytes()


def test_only_published_works_are_in_it_named_without_personal_data(app, client, admin, works):
    with download(client) as archive:
        names = archive.namelist()
        readme = archive.read("README.txt").decode()
    assert len(names) == 4  # three works and README.txt
    assert not [n for n in names if "비공개" in n or "낙선작" in n]
    with app.app_context():
        entries = [db.session.get(Entry, i) for i in works.values()]
        private = [
            (e.entrant_name, e.receipt, e.receipt_display, e.original_filename, e.email)
            for e in entries
        ]
    for values in private:
        for value in values:
            assert not [n for n in names if value in n]
            assert value not in readme
    assert "01_" in names[0] and names[0].endswith(".jpg")
    assert "공개에 동의하지 않았거나 제외된 수상작 1점" in readme


def test_a_copy_that_cannot_be_made_is_listed_not_fatal(app, client, admin, works):
    replace_original(app, works["photo"], b"\xff\xd8\xff\xe0 not really a jpeg")
    with download(client) as archive:
        readme = archive.read("README.txt").decode()
        assert not [n for n in archive.namelist() if n.endswith(".jpg")]
    assert "사본을 만들지 못한 작품" in readme and "남산의 아침" in readme


def test_the_download_is_audited(app, client, admin, works):
    download(client)
    with app.app_context():
        logs = db.session.scalars(
            db.select(AuditLog).where(AuditLog.action == "export-winners-public")
        ).all()
        assert [(log.new["format"], log.new["rows"]) for log in logs] == [("zip", 3)]


def test_the_winners_page_and_media_serve_only_derivatives(app, client, works):
    with app.app_context():
        entries = [db.session.get(Entry, i) for i in works.values()]
        keys = {a.role: a.key for e in entries for a in e.assets}
        originals = [e.asset("original").key for e in entries]
    page = client.get("/winners").get_data(as_text=True)
    for key in originals:
        assert key not in page
        assert client.get(f"/media/{key}").status_code == 404
    served = [k for role, k in keys.items() if role in ("preview", "thumbnail", "playback")]
    assert served and all(k in page or client.get(f"/media/{k}").status_code == 200 for k in served)


def test_a_recorded_zoom_copy_is_reused_for_a_photo(app, client, admin, works):
    with app.app_context():
        entry = db.session.get(Entry, works["photo"])
        copy = zoom.make_copy(entry.id, entry.asset("original").key)
        zoom.record_copy(copy.entry_id, copy.key, copy.content_type, len(copy.data), 900, 1200)
        db.session.commit()
    replace_original(app, works["photo"], b"not decoded again")
    with download(client) as archive:
        assert member(archive, ".jpg", "남산의-아침") == copy.data


def test_the_awards_page_links_both_zips(client, admin, works):
    page = client.get("/admin/awards").get_data(as_text=True)
    assert "/admin/export/winners.zip" in page and "/admin/export/winners-public.zip" in page
