"""Derivatives are served safely and cacheably; originals and the upload folder never are."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import Asset

from .photos import photo_image


def _assets(app) -> dict[str, Asset]:
    with app.app_context():
        return {a.role: a for a in db.session.scalars(select(Asset))}


def _jpeg_with_gps_and_camera() -> bytes:
    image = photo_image((1600, 1200), seed=5)
    exif = Image.Exif()
    exif[0x010F] = "Samsung"  # Make
    exif[0x0110] = "Galaxy S26"  # Model
    exif[0x0112] = 1
    exif.get_ifd(0x8769)[0x9003] = "2026:12:03 10:15:00"  # DateTimeOriginal
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 30.0, 36.0), 3: "E", 4: (127.0, 3.0, 35.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def test_derivatives_are_served_with_a_fixed_type_nosniff_etag_and_long_cache(app, client, submit):
    submit()
    for role in ("thumbnail", "preview"):
        asset = _assets(app)[role]
        with client.get(f"/media/{asset.key}") as response:
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.cache_control.max_age >= 30 * 24 * 3600
            assert response.cache_control.public
            etag = response.headers["ETag"]
        with client.get(f"/media/{asset.key}", headers={"If-None-Match": etag}) as again:
            assert again.status_code == 304


def test_media_answers_range_requests(app, client, submit):
    submit()
    key = _assets(app)["preview"].key
    with client.get(f"/media/{key}") as response:
        whole = response.data
    with client.get(f"/media/{key}", headers={"Range": "bytes=100-199"}) as part:
        assert part.status_code == 206
        assert part.data == whole[100:200]


def test_originals_are_never_served_anonymously(app, client, submit, upload_folder):
    submit()
    original = _assets(app)["original"]
    assert client.get(f"/media/{original.key}").status_code == 404
    assert client.get(f"/uploads/{original.key}").status_code == 404
    assert client.get(f"/static/../uploads/{original.key}").status_code == 404
    assert client.get("/media/../contest.db").status_code == 404
    assert client.get("/media/tmp/whatever.part").status_code == 404


def test_gps_and_camera_data_never_leave_in_derivatives_but_capture_time_is_kept(
    app, client, submit
):
    assert submit(media=_jpeg_with_gps_and_camera()).status_code == 303
    assets = _assets(app)
    for role in ("thumbnail", "preview"):
        with client.get(f"/media/{assets[role].key}") as response:
            served = response.data
        assert b"Exif" not in served and b"Galaxy" not in served
        with Image.open(io.BytesIO(served)) as im:
            assert not im.getexif() and "icc_profile" not in im.info
    with app.app_context():
        entry = db.session.get(Asset, assets["original"].id).entry
        assert entry.captured_at.isoformat() == "2026-12-03T10:15:00"
        assert (entry.camera_make, entry.camera_model) == ("Samsung", "Galaxy S26")
        columns = {c.name for c in entry.__table__.columns}
        assert not any("gps" in c or "lat" in c or "location" in c for c in columns)


def test_media_of_a_withdrawn_entry_is_gone(app, client, submit):
    location = submit().headers["Location"]
    key = _assets(app)["thumbnail"].key
    client.post(location + "/withdraw")
    assert client.get(f"/media/{key}").status_code == 404
