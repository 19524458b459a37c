"""Flags at submission: near-duplicates by pHash, capture time, resolution, camera; dismissing."""

from __future__ import annotations

import io
import random
import re
from datetime import date, datetime

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import event, select

from contest.core.extensions import db
from contest.media import perceptual_hash
from contest.models import AuditLog, Category, Contest, Entry, Flag
from contest.services import flags

from .photos import photo_image

FAIR = (date(2026, 12, 3), date(2026, 12, 6))  # the seeded contest's fair dates
INSIDE = "2026:12:04 10:15:00"
OUTSIDE = "2026:11:20 10:15:00"


# --- generated photos ---------------------------------------------------------------------------


def scene(seed: int, size: tuple[int, int] = (2400, 1800)) -> Image.Image:
    """A picture with its own composition: shapes of random sizes and colours on a gradient."""
    rng = random.Random(seed)
    image = photo_image(size, seed)
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randrange(width // 8, width // 2)
        y1 = y0 + rng.randrange(height // 8, height // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    return image


def jpeg(
    image: Image.Image,
    quality: int = 90,
    when: str | None = None,
    make: str | None = None,
    model: str | None = None,
) -> bytes:
    """The picture as a JPEG, with the EXIF capture time and camera asked for."""
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if when:
        exif.get_ifd(0x8769)[0x9003] = when  # DateTimeOriginal
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def camera_jpeg(image: Image.Image, when: str | None = INSIDE, **kwargs) -> bytes:
    """A photo as a phone at the fair would send it."""
    return jpeg(image, when=when, make="Samsung", model="Galaxy S26", **kwargs)


def crop(image: Image.Image, share: float) -> Image.Image:
    """The picture with `share` of its width and height cut off each side."""
    width, height = image.size
    dx, dy = int(width * share), int(height * share)
    return image.crop((dx, dy, width - dx, height - dy))


def thumb_hash(image: Image.Image) -> str:
    """The pHash of the 480 px thumbnail, as the submission computes it."""
    small = image.copy()
    small.thumbnail((480, 480))
    return perceptual_hash.phash_of(jpeg(small, quality=85))


_people = iter(range(1000, 10_000))


def send(submit, media: bytes, title: str = "작품"):
    """Post a photo as a new entrant (each has a limit of 3 entries)."""
    n = next(_people)
    response = submit(
        media=media, title=title, phone=f"010-5555-{n:04d}", email=f"person{n}@example.com"
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def entry_flags(app, title: str) -> list[tuple[str, int | None, str]]:
    """(kind, other entry id, detail) of the flags of the entry with this title."""
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.title == title))
        rows = db.session.scalars(select(Flag).where(Flag.entry_id == entry.id).order_by(Flag.id))
        return [(f.kind, f.other_entry_id, f.detail) for f in rows]


def entry_id(app, title: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Entry.id).where(Entry.title == title))


# --- the perceptual hash ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_copies_are_within_the_distance_and_other_photos_are_not(app, seed):
    limit = app.config["NEAR_DUPLICATE_DISTANCE"]
    original = scene(seed)
    mine = thumb_hash(original)
    assert re.fullmatch(r"[0-9a-f]{16}", mine)
    resized = Image.open(io.BytesIO(jpeg(original.resize((1600, 1200)), quality=70)))
    assert perceptual_hash.distance(mine, thumb_hash(resized)) <= limit
    assert perceptual_hash.distance(mine, thumb_hash(crop(original, 0.01))) <= limit
    brighter = original.point(lambda v: min(255, int(v * 1.1)))
    assert perceptual_hash.distance(mine, thumb_hash(brighter)) <= limit
    for other in (seed + 100, seed + 200):
        assert perceptual_hash.distance(mine, thumb_hash(scene(other))) > limit


def test_distance_counts_differing_bits():
    assert perceptual_hash.distance("0000000000000000", "0000000000000000") == 0
    assert perceptual_hash.distance("0000000000000000", "000000000000003f") == 6
    assert perceptual_hash.distance("ffffffffffffffff", "0000000000000000") == 64


# --- near-duplicates at submission --------------------------------------------------------------


def test_a_resized_re_encoded_copy_is_flagged_against_the_first(app, submit):
    original = scene(7)
    send(submit, camera_jpeg(original), title="first")
    copy = camera_jpeg(original.resize((2100, 1575)), quality=75)
    send(submit, copy, title="copy")
    send(submit, camera_jpeg(scene(8)), title="unrelated")

    first = entry_id(app, "first")
    assert entry_flags(app, "first") == []
    ((kind, other, detail),) = entry_flags(app, "copy")
    assert (kind, other) == ("near-duplicate", first)
    assert f"#{first}" in detail
    assert entry_flags(app, "unrelated") == []
    with app.app_context():
        hashes = db.session.scalars(select(Entry.phash)).all()
        assert all(re.fullmatch(r"[0-9a-f]{16}", h) for h in hashes)
        # Flags never reject: every entry is still in judging.
        assert set(db.session.scalars(select(Entry.status))) == {"submitted"}


def test_near_duplicates_use_the_configured_distance_in_two_queries(make_app, make_entry):
    app = make_app(NEAR_DUPLICATE_DISTANCE=8)
    base = 0x0123456789ABCDEF
    close = make_entry("8 bits away", phash=f"{base ^ 0xFF:016x}")
    make_entry("9 bits away", phash=f"{base ^ 0x1FF:016x}")
    for n in range(30):
        make_entry(f"far {n}", phash=f"{~base & 0xFFFFFFFFFFFFFFFF ^ n:016x}")
    new = make_entry("new", phash=f"{base:016x}")
    with app.app_context():
        entry = db.session.get(Entry, new)
        statements = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            found = flags.near_duplicate_flags(entry)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
    assert [(f.kind, f.other_entry_id) for f in found] == [("near-duplicate", close)]
    # The new hashes, then the near ones read again: however many entries the contest has.
    assert len(statements) == 2


def test_a_withdrawn_entry_is_not_flagged_though_this_process_knew_its_hash(app, make_entry):
    base = 0x0F1E_2D3C_4B5A_6978
    gone = make_entry("withdrawn later", phash=f"{base ^ 0b1:016x}")
    kept = make_entry("kept", phash=f"{base ^ 0b11:016x}")
    with app.app_context():
        contest_id = db.session.get(Entry, gone).contest_id
        first = flags.scan_near_duplicates(contest_id, f"{base:016x}")
        assert sorted(first.near) == [(1, gone), (2, kept)]
        db.session.delete(db.session.get(Entry, gone))
        db.session.commit()
    new = make_entry("new", phash=f"{base:016x}")
    with app.app_context():
        found = flags.near_duplicate_flags(db.session.get(Entry, new))
    assert [f.other_entry_id for f in found] == [kept]


def test_an_entry_committed_after_the_early_scan_is_still_compared(app, make_entry):
    """`accept` scans before the write lock and again, for what came since, inside it."""
    base = 0x1234_5678_9ABC_DEF0
    before = make_entry("before the scan", phash=f"{base ^ 0b11:016x}")
    make_entry("far", phash=f"{~base & 0xFFFFFFFFFFFFFFFF:016x}")
    with app.app_context():
        contest_id = db.session.get(Entry, before).contest_id
        earlier = flags.scan_near_duplicates(contest_id, f"{base:016x}")
        db.session.rollback()
    assert earlier.near == [(2, before)]
    meanwhile = make_entry("committed meanwhile", phash=f"{base ^ 0b1:016x}")
    new = make_entry("new", phash=f"{base:016x}")
    with app.app_context():
        found = flags.near_duplicate_flags(db.session.get(Entry, new), earlier)
    assert [f.other_entry_id for f in found] == [meanwhile, before]  # closest first


def test_the_default_distance_is_six(app, make_entry):
    base = 0x0F0F0F0F0F0F0F0F
    six = make_entry("six", phash=f"{base ^ 0b111111:016x}")
    make_entry("seven", phash=f"{base ^ 0b1111111:016x}")
    new = make_entry("new", phash=f"{base:016x}")
    with app.app_context():
        found = flags.near_duplicate_flags(db.session.get(Entry, new))
    assert [f.other_entry_id for f in found] == [six]


# --- capture time -------------------------------------------------------------------------------


def test_a_photo_taken_during_the_fair_by_a_camera_has_no_flag(app, submit):
    send(submit, camera_jpeg(scene(11), when=INSIDE), title="good")
    assert entry_flags(app, "good") == []


def test_a_photo_taken_before_the_fair_is_flagged(app, submit):
    send(submit, camera_jpeg(scene(12), when=OUTSIDE), title="early")
    ((kind, _, detail),) = entry_flags(app, "early")
    assert kind == "capture-time"
    assert "2026-11-20 10:15" in detail and "2026-12-03" in detail and "2026-12-06" in detail


def test_a_photo_without_a_capture_time_is_flagged(app, submit):
    send(submit, camera_jpeg(scene(13), when=None), title="timeless")
    ((kind, _, detail),) = entry_flags(app, "timeless")
    assert kind == "capture-time"
    assert detail == "촬영 시각 정보가 없습니다: 행사장에서 찍었는지 확인"


def _contest() -> Contest:
    return Contest(fair_starts_on=FAIR[0], fair_ends_on=FAIR[1])


@pytest.mark.parametrize(
    ("camera_time", "flagged"),
    [
        (datetime(2026, 12, 3, 0, 0), False),
        (datetime(2026, 12, 6, 23, 59), False),
        (datetime(2026, 12, 2, 23, 59), True),
        (datetime(2026, 12, 7, 0, 0), True),
    ],
)
def test_photo_dates_are_read_as_the_camera_wrote_them(camera_time, flagged):
    entry = Entry(captured_at=camera_time)
    assert (flags.capture_time_problem(entry, _contest()) is not None) is flagged


@pytest.mark.parametrize(
    ("utc_time", "flagged"),
    [
        (datetime(2026, 12, 2, 15, 30), False),  # 3 December, 00:30 in Seoul
        (datetime(2026, 12, 6, 14, 59), False),  # 6 December, 23:59 in Seoul
        (datetime(2026, 12, 6, 15, 30), True),  # 7 December, 00:30 in Seoul
        (datetime(2026, 12, 2, 14, 59), True),  # 2 December, 23:59 in Seoul
        (None, True),
    ],
)
def test_video_dates_are_taken_in_seoul(utc_time, flagged):
    entry = Entry(captured_at=utc_time, video_codec="h264")
    assert (flags.capture_time_problem(entry, _contest()) is not None) is flagged


# --- resolution and camera data -----------------------------------------------------------------


def test_a_small_screenshot_gets_low_resolution_and_no_camera_flags(app, submit):
    send(submit, jpeg(scene(14, (1600, 1200)), when=INSIDE), title="screenshot")
    kinds = {kind: detail for kind, _, detail in entry_flags(app, "screenshot")}
    assert set(kinds) == {"low-resolution", "no-camera-data"}
    assert "1600" in kinds["low-resolution"] and "2000" in kinds["low-resolution"]


def _kinds(app, **fields) -> set[str]:
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        kind = "video" if fields.get("video_codec") else "photo"
        category = db.session.scalar(select(Category).where(Category.kind == kind))
        values = {
            "captured_at": datetime(2026, 12, 4, 10, 0),
            "camera_make": "Canon",
            "camera_model": "EOS R6",
            "category": category,
        }
        entry = Entry(**(values | fields))
        return {f.kind for f in flags.eligibility_flags(entry, contest)}


@pytest.mark.parametrize(
    ("size", "flagged"), [((1999, 1500), True), ((2000, 1500), False), ((1500, 2000), False)]
)
def test_photos_below_the_long_side_minimum_are_flagged(app, size, flagged):
    kinds = _kinds(app, width=size[0], height=size[1])
    assert ("low-resolution" in kinds) is flagged


def test_the_photo_minimum_is_a_setting(make_app):
    app = make_app(FLAG_MIN_LONG_SIDE=3000)
    assert _kinds(app, width=2400, height=1800) == {"low-resolution"}


@pytest.mark.parametrize(
    ("size", "flagged"),
    [((1280, 720), False), ((720, 1280), False), ((854, 480), True), ((640, 360), True)],
)
def test_videos_below_720p_are_flagged(app, size, flagged):
    kinds = _kinds(app, width=size[0], height=size[1], video_codec="h264")
    assert ("low-resolution" in kinds) is flagged
    assert "no-camera-data" not in kinds  # videos carry no camera make/model columns


@pytest.mark.parametrize(
    ("make", "model", "flagged"),
    [(None, None, True), ("Apple", None, False), (None, "iPhone 16", False), ("Apple", "X", False)],
)
def test_photos_without_camera_make_and_model_are_flagged(app, make, model, flagged):
    kinds = _kinds(app, width=4000, height=3000, camera_make=make, camera_model=model)
    assert ("no-camera-data" in kinds) is flagged


def test_a_video_entry_is_hashed_from_its_poster(app, submit, tmp_path):
    from .media.videogen import write_clip

    path = write_clip(tmp_path / "clip.mp4", seconds=1.2)
    response = submit(json=True, media=path.read_bytes(), filename="clip.mp4", title="clip")
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.title == "clip"))
        assert re.fullmatch(r"[0-9a-f]{16}", entry.phash)
        kinds = {f.kind for f in db.session.scalars(select(Flag).where(Flag.entry_id == entry.id))}
    # A generated clip is tiny and has no creation time.
    assert {"low-resolution", "capture-time"} <= kinds
    assert "no-camera-data" not in kinds


# --- dismissing, the pair view ------------------------------------------------------------------


@pytest.fixture
def pair(app, make_entry) -> tuple[int, int, int]:
    """Two entries and a near-duplicate flag on the later one: (older, newer, flag)."""
    older = make_entry("older photo", phash="0123456789abcdef")
    newer = make_entry("newer photo", phash="0123456789abcdee")
    with app.app_context():
        flag = Flag(entry_id=newer, kind="near-duplicate", other_entry_id=older, detail="거의 같음")
        db.session.add(flag)
        db.session.commit()
        return older, newer, flag.id


def _flag(app, flag_id: int) -> Flag:
    with app.app_context():
        flag = db.session.get(Flag, flag_id)
        db.session.expunge(flag)
        return flag


def _open_count(client, entry: int) -> str:
    page = client.get("/admin/entries").get_data(as_text=True)
    return re.search(rf'<tr data-entry="{entry}">.*?data-flags="(\d+)"', page, re.S).group(1)


def test_dismissing_a_flag_records_who_and_why_and_stops_counting_it(app, client, admin, pair):
    older, newer, flag_id = pair
    assert _open_count(client, newer) == "1"
    assert 'data-flag="near-duplicate" data-dismissed="n"' in client.get(
        f"/admin/entries/{newer}"
    ).get_data(as_text=True)

    response = client.post(
        f"/admin/flags/{flag_id}/dismiss",
        data={"reason": "같은 사람이 다른 장면을 찍음", "next": f"/admin/entries/{newer}"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/entries/{newer}"
    flag = _flag(app, flag_id)
    assert flag.dismissed_at is not None and flag.dismissed_by_id == admin
    assert flag.dismiss_reason == "같은 사람이 다른 장면을 찍음"
    with app.app_context():
        (log,) = db.session.scalars(select(AuditLog).where(AuditLog.action == "dismiss-flag"))
        assert (log.user_id, log.target) == (admin, f"entry:{newer}")
        assert log.new["reason"] == "같은 사람이 다른 장면을 찍음"

    assert _open_count(client, newer) == "0"
    for kind in ("any", "near-duplicate"):
        listed = client.get(f"/admin/entries?flag={kind}").get_data(as_text=True)
        assert f'data-entry="{newer}"' not in listed
    page = client.get(f"/admin/entries/{newer}").get_data(as_text=True)
    assert 'data-dismissed="y"' in page and "<del>" in page
    assert "같은 사람이 다른 장면을 찍음" in page


def test_dismissing_needs_a_reason(app, client, admin, pair):
    _, _, flag_id = pair
    for reason in ("", "   ", "x" * 501):
        response = client.post(f"/admin/flags/{flag_id}/dismiss", data={"reason": reason})
        assert response.status_code == 400
    assert _flag(app, flag_id).dismissed_at is None
    with app.app_context():
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "dismiss-flag")) is None


def test_a_flag_is_dismissed_once(app, client, admin, pair):
    _, _, flag_id = pair
    assert client.post(f"/admin/flags/{flag_id}/dismiss", data={"reason": "ok"}).status_code == 303
    again = client.post(f"/admin/flags/{flag_id}/dismiss", data={"reason": "again"})
    assert again.status_code == 409
    assert _flag(app, flag_id).dismiss_reason == "ok"


def test_the_pair_view_shows_both_previews_side_by_side(app, client, admin, pair):
    older, newer, flag_id = pair
    with app.app_context():
        keys = [db.session.get(Entry, e).asset("preview").key for e in (newer, older)]
    page = client.get(f"/admin/flags/{flag_id}").get_data(as_text=True)
    assert all(f"/media/{key}" in page for key in keys)
    assert page.index(f"/media/{keys[0]}") < page.index(f"/media/{keys[1]}")
    assert "older photo" in page and "newer photo" in page
    assert "0123456789abcdef" in page and "0123456789abcdee" in page
    # The older entry's page points to the later look-alike.
    older_page = client.get(f"/admin/entries/{older}").get_data(as_text=True)
    assert f"/admin/flags/{flag_id}" in older_page


def test_a_missing_flag_is_404(client, admin):
    assert client.get("/admin/flags/999").status_code == 404
    assert client.post("/admin/flags/999/dismiss", data={"reason": "x"}).status_code == 404
