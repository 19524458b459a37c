"""Judges zoom into photos at full resolution: a metadata-free copy, made once, judges only."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select

from contest.core.extensions import db
from contest.models import Asset, Entry

from .conftest import stored_files
from .photos import photo_image


def _full_assets(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Asset.id)).where(Asset.role == "full"))


def _sideways_jpeg_with_gps() -> bytes:
    """Stored 1600x1200 with Orientation 6 (shown 1200x1600), camera data and a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Apple"
    exif[0x013B] = "Hong Gildong"  # Artist: the owner's name, which judges must not see
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 30.0, 36.0), 3: "E", 4: (127.0, 3.0, 35.0)})
    out = io.BytesIO()
    photo_image((1600, 1200), seed=9).save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def test_zoom_serves_the_photo_upright_at_full_size_without_metadata(
    app, client, make_user, login, submit
):
    assert submit(media=_sideways_jpeg_with_gps()).status_code == 303
    make_user("judge-zoom")
    login("judge-zoom")
    with app.app_context():
        entry_id = db.session.scalar(select(Entry.id))
    page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    assert f'data-full-src="/judge/entries/{entry_id}/full"' in page

    with client.get(f"/judge/entries/{entry_id}/full") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.cache_control.private
        body = response.data
    assert b"Exif" not in body and b"Hong Gildong" not in body
    with Image.open(io.BytesIO(body)) as im:
        assert im.size == (1200, 1600)
        assert not im.getexif()
    with client.get(f"/judge/entries/{entry_id}/full"):
        pass
    assert _full_assets(app) == 1  # made once, then kept


def test_the_zoom_copy_is_for_judges_only(app, client, make_entry, make_user, login, judge):
    entry_id = make_entry()
    with client.get(f"/judge/entries/{entry_id}/full") as response:
        assert response.status_code == 200
    with app.app_context():
        key = db.session.scalar(select(Asset.key).where(Asset.role == "full"))
    with client.get(f"/media/{key}") as public:
        assert public.status_code == 404  # never on the anonymous media route
    client.post("/logout")
    assert client.get(f"/judge/entries/{entry_id}/full").status_code == 303
    make_user("boss", role="admin")
    login("boss")
    assert client.get(f"/judge/entries/{entry_id}/full").status_code == 403


def test_no_zoom_for_videos_or_rejected_entries(client, make_entry, judge):
    video = make_entry(kind="video")
    rejected = make_entry(status="rejected")
    assert client.get(f"/judge/entries/{video}/full").status_code == 404
    assert client.get(f"/judge/entries/{rejected}/full").status_code == 404


def test_a_lost_zoom_copy_is_dropped_by_doctor_and_made_again(
    app, client, runner, make_entry, judge, upload_folder
):
    entry_id = make_entry()
    with client.get(f"/judge/entries/{entry_id}/full"):
        pass
    with app.app_context():
        key = db.session.scalar(select(Asset.key).where(Asset.role == "full"))
    (upload_folder / key).unlink()
    assert runner.invoke(args=["doctor", "--repair"]).exit_code == 0
    assert _full_assets(app) == 0
    with client.get(f"/judge/entries/{entry_id}/full") as again:
        assert again.status_code == 200
    assert _full_assets(app) == 1


def test_the_judges_get_writes_no_row_a_job_records_the_copy(app, client, make_entry, judge):
    queue = app.extensions["contest.huey"]
    queue.immediate = False  # a real queue and no worker yet: what the GET itself does
    entry_id = make_entry()
    with client.get(f"/judge/entries/{entry_id}/full") as first:
        assert first.status_code == 200 and first.cache_control.private
        served = first.data
    assert _full_assets(app) == 0  # the request committed nothing

    queue.execute(queue.dequeue())  # what `flask worker` does
    assert _full_assets(app) == 1
    with client.get(f"/judge/entries/{entry_id}/full") as again:
        assert again.data == served  # the copy the first judge saw, now stored and kept
    assert len(queue) == 0  # and no second job


def test_two_judges_zooming_at_once_keep_one_copy(app, client, make_entry, judge, upload_folder):
    queue = app.extensions["contest.huey"]
    queue.immediate = False
    entry_id = make_entry()
    for _ in range(2):
        with client.get(f"/judge/entries/{entry_id}/full") as response:
            assert response.status_code == 200
    while len(queue):
        queue.execute(queue.dequeue())
    assert _full_assets(app) == 1
    with app.app_context():
        recorded = set(db.session.scalars(select(Asset.key)))
    assert set(stored_files(upload_folder)) == recorded  # the second copy's file is gone
