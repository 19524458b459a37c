"""Content checks that start the moment a resumable upload completes (`upload_checks`).

Huey runs in immediate mode in tests, so the PATCH that brings the last byte has run the
check by the time it answers. Submit stays the authority: it uses the verdict only for the
very bytes checked, and otherwise checks inline as before.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from contest.core import jobs
from contest.core.extensions import db
from contest.models import Entry, Upload
from contest.services import entries, upload_checks
from contest.services import uploads_in_flight as uploads
from contest.storage import get_storage

from .conftest import entry_form, stored_files
from .media.videogen import write_clip
from .photos import photo_bytes
from .test_storage_s3 import PREFIX, bucket, objects, s3, s3_env  # noqa: F401
from .test_tus import TUS, create, patch
from .test_tus_s3 import _clients, _local_files, servers  # noqa: F401

FAKE_JPEG = b"\xff\xd8\xff\xe0" + b"not really a photo " * 200


def _upload(client, data: bytes, filetype: str = "image/jpeg") -> str:
    """Send a file in two pieces; the id of the finished upload."""
    url = create(client, len(data), filetype).headers["Location"]
    half = len(data) // 2
    assert patch(client, url, 0, data[:half]).status_code == 204
    assert patch(client, url, half, data[half:]).headers["Upload-Offset"] == str(len(data))
    return url.rsplit("/", 1)[1]


def _check(client, upload_id: str, **headers):
    return client.get(f"/uploads/{upload_id}/check", headers=headers)


def _submit(client, upload_id: str):
    fields = entry_form(upload=upload_id)
    del fields["media"]
    return client.post("/submit", data=fields, headers={"Accept": "application/json"})


@pytest.fixture
def inspections(monkeypatch) -> list[Path]:
    """The files the expensive step (decoding, derivatives) ran on, in order."""
    seen: list[Path] = []
    real = entries._inspect

    def counting(kind, path, config):
        seen.append(path)
        return real(kind, path, config)

    monkeypatch.setattr(entries, "_inspect", counting)
    return seen


def _checked_files(upload_folder: Path) -> list[str]:
    folder = upload_folder / "tmp" / uploads.CHECKED_FOLDER
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_fake_jpeg_is_refused_as_soon_as_it_is_uploaded(app, client, upload_folder):
    upload_id = _upload(client, FAKE_JPEG)
    answer = _check(client, upload_id)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert body["state"] == "refused"
    assert body["message"] == "파일이 손상되었거나 전송 중에 잘렸습니다. 다시 보내 주세요."
    english = _check(client, upload_id, **{"Accept-Language": "en"}).get_json()
    assert english == {
        "state": "refused",
        "message": "The file is damaged or was cut off during the upload. Please send it again.",
    }
    assert _checked_files(upload_folder) == []  # a refused file prepares nothing
    # Submit still decides, and says the same next to the file field.
    response = _submit(client, upload_id)
    assert response.status_code in (415, 422)
    assert body["message"] in response.get_json()["errors"]["media"]
    assert stored_files(upload_folder) == []


def test_only_the_owner_hears_about_a_check(app, client):
    upload_id = _upload(client, photo_bytes())
    assert _check(app.test_client(), upload_id).status_code == 404
    missing = _check(client, "no-such-upload")
    assert missing.status_code == 404 and missing.get_json()["error"]
    unfinished = create(client, 100).headers["Location"].rsplit("/", 1)[1]
    assert _check(client, unfinished).get_json() == {"state": "checking", "message": None}
    with app.app_context():
        assert db.session.get(Upload, unfinished).check_state is None  # nothing to check yet


def test_submit_uses_a_ready_verdict_and_makes_the_same_entry(
    app, client, upload_folder, inspections
):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Canon", "EOS R6", "2026:11:20 10:11:12"
    data = photo_bytes(size=(2400, 1800), exif=exif.tobytes())
    upload_id = _upload(client, data)
    assert len(inspections) == 1  # the PATCH that completed it ran the check
    assert _check(client, upload_id).get_json() == {"state": "ok", "message": None}
    assert _checked_files(upload_folder) == [f"{upload_id}.preview", f"{upload_id}.thumbnail"]
    # What submitting the same bytes inline makes, for comparison.
    with app.test_request_context():
        inline = entries.check_content(upload_folder / "tmp" / "tus" / upload_id)
    inspections.clear()

    response = _submit(client, upload_id)
    assert response.status_code == 201, response.get_json()
    assert inspections == []  # submit did not decode again
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert (entry.width, entry.height, entry.media_format) == (2400, 1800, "JPEG")
        assert (entry.camera_make, entry.camera_model) == ("Canon", "EOS R6")
        assert entry.captured_at == datetime(2026, 11, 20, 10, 11, 12)  # camera-local, naive
        assets = {asset.role: asset for asset in entry.assets}
        assert set(assets) >= {"original", "preview", "thumbnail"}
        storage = get_storage()
        for role in ("preview", "thumbnail"):
            derivative = getattr(inline.media, role)
            with storage.open(assets[role].key) as stored:
                assert stored.read() == derivative.data
            assert (assets[role].width, assets[role].height) == (
                derivative.width,
                derivative.height,
            )
        with storage.open(assets["original"].key) as stored:
            assert stored.read() == data
        assert db.session.scalars(select(Upload)).all() == []
    assert not any(name.startswith("tmp/") for name in stored_files(upload_folder))


def test_a_verdict_for_other_bytes_is_not_trusted(app, client, upload_folder, inspections):
    first, other = photo_bytes(seed=1), photo_bytes(seed=2)
    # The same length (a JPEG may carry bytes after its end), so only the content differs.
    length = max(len(first), len(other))
    first, other = first.ljust(length, b"\0"), other.ljust(length, b"\0")
    upload_id = _upload(client, first)
    (upload_folder / "tmp" / "tus" / upload_id).write_bytes(other)  # changed after the check
    response = _submit(client, upload_id)
    assert response.status_code == 201, response.get_json()
    assert len(inspections) == 2  # checked again, inline
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.sha256 == hashlib.sha256(other).hexdigest()
    assert not any(name.startswith("tmp/") for name in stored_files(upload_folder))


def test_without_a_verdict_submit_checks_inline(app, client, upload_folder, inspections):
    def unreachable(upload_id):
        raise ConnectionError("queue down")

    app.extensions["contest.tasks"]["check_upload"] = unreachable
    upload_id = _upload(client, photo_bytes())
    assert inspections == []
    with app.app_context():
        assert db.session.get(Upload, upload_id).check_state is None  # not left "checking"
    assert _check(client, upload_id).get_json()["state"] == "checking"
    assert _submit(client, upload_id).status_code == 201
    assert len(inspections) == 1


def test_a_busy_server_gives_no_verdict(app, client, monkeypatch):
    """No room to decode in time (503) says nothing about the file: submit checks it."""
    from contest.media import Rejected

    def busy(kind, path, config):
        raise Rejected("busy", 503)

    monkeypatch.setattr(entries, "_inspect", busy)
    upload_id = _upload(client, photo_bytes())
    with app.app_context():
        assert db.session.get(Upload, upload_id).check_state is None
    assert _check(client, upload_id).get_json() == {"state": "checking", "message": None}
    monkeypatch.undo()
    assert _submit(client, upload_id).status_code == 201


def test_a_video_is_checked_and_its_poster_kept_for_submit(
    app, client, upload_folder, inspections, tmp_path
):
    clip = write_clip(
        tmp_path / "clip.mp4", seconds=2.0, metadata={"creation_time": "2026-11-20T01:02:03Z"}
    )
    data = clip.read_bytes()
    upload_id = _upload(client, data, "video/mp4")
    assert _check(client, upload_id).get_json()["state"] == "ok"
    assert _checked_files(upload_folder) == [f"{upload_id}.poster", f"{upload_id}.thumbnail"]
    response = _submit(client, upload_id)
    assert response.status_code == 201, response.get_json()
    assert len(inspections) == 1
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert entry.media_format == "mp4" and entry.video_codec == "h264"
        assert entry.captured_at is not None and entry.captured_at.hour == 1
        assert {asset.role for asset in entry.assets} >= {"original", "preview", "thumbnail"}
    assert not any(name.startswith("tmp/") for name in stored_files(upload_folder))


def test_expired_and_terminated_uploads_leave_no_files(app, client, upload_folder):
    kept = _upload(client, photo_bytes(seed=3))
    given_up = _upload(client, photo_bytes(seed=4))
    assert len(_checked_files(upload_folder)) == 4
    assert client.delete(f"/uploads/{given_up}", headers=TUS).status_code == 204
    assert _checked_files(upload_folder) == [f"{kept}.preview", f"{kept}.thumbnail"]
    with app.app_context():
        upload = db.session.get(Upload, kept)
        upload.created_at -= timedelta(seconds=app.config["UPLOAD_EXPIRY"] + 1)
        db.session.commit()
        assert jobs.remove_expired_uploads() == 1
    assert stored_files(upload_folder) == []


def test_a_verdict_that_comes_after_submit_leaves_nothing(app, client, upload_folder):
    app.extensions["contest.tasks"]["check_upload"] = lambda upload_id: None  # never runs
    upload_id = _upload(client, photo_bytes())
    with app.app_context():
        db.session.get(Upload, upload_id).check_state = "checking"  # queued, not yet run
        db.session.commit()
        work = upload_checks.pending(upload_id)
        db.session.rollback()
    with app.test_request_context():
        outcome = upload_checks.examine(work)
    assert len(_checked_files(upload_folder)) == 2
    assert _submit(client, upload_id).status_code == 201  # meanwhile: checked inline
    with app.app_context():
        assert upload_checks.record(outcome) is False  # the row is gone
        upload_checks.discard(outcome)
    assert not any(name.startswith("tmp/") for name in stored_files(upload_folder))


def test_a_file_taken_by_submit_mid_check_is_no_error(app, client, upload_folder, monkeypatch):
    """Submit does not wait for the check: it may move the file away while a worker reads
    it. The check then ends quietly, keeping nothing."""
    app.extensions["contest.tasks"]["check_upload"] = lambda upload_id: None  # run by hand
    upload_id = _upload(client, photo_bytes())
    path = upload_folder / "tmp" / "tus" / upload_id

    def moved_away(kind, path_, config):
        path.rename(upload_folder / "moved")  # as submit's adopt() does
        raise RuntimeError("the decoder's child could not open the file")

    monkeypatch.setattr(entries, "_inspect", moved_away)
    with app.app_context():
        work = upload_checks.pending(upload_id)
        db.session.rollback()
    with app.test_request_context():
        assert upload_checks.examine(work) is None
    assert _checked_files(upload_folder) == []


def test_doctor_removes_derivatives_whose_upload_is_gone(app, client, runner, upload_folder):
    upload_id = _upload(client, photo_bytes())
    with app.app_context():
        db.session.delete(db.session.get(Upload, upload_id))  # a crash lost the row only
        db.session.commit()
    for path in (upload_folder / "tmp").rglob("*"):
        if path.is_file():
            old = path.stat().st_mtime - 10 * 24 * 3600
            os.utime(path, (old, old))
    report = runner.invoke(args=["doctor", "--repair"])
    assert report.exit_code == 0, report.output
    assert stored_files(upload_folder) == []


def test_with_s3_the_prepared_files_live_in_the_bucket_for_any_server(
    servers,  # noqa: F811
    s3,  # noqa: F811
    bucket,  # noqa: F811
    inspections,
):
    """The server that completes an upload checks it; the other takes the submit and finds
    the derivatives in the bucket, not on the first one's disk."""
    clients = _clients(servers)
    data = photo_bytes(size=(2000, 1500))
    url = create(clients[0], len(data)).headers["Location"]
    assert patch(clients[0], url, 0, data).headers["Upload-Offset"] == str(len(data))
    upload_id = url.rsplit("/", 1)[1]
    assert len(inspections) == 1
    assert _check(clients[1], upload_id).get_json()["state"] == "ok"
    names = [key.rsplit("/", 1)[1] for key in objects(s3, bucket)]
    assert f"{upload_id}.preview" in names and f"{upload_id}.thumbnail" in names
    for app in servers:
        assert _local_files(app) == []  # the checked copy was temporary
    response = _submit(clients[1], upload_id)
    assert response.status_code == 201, response.get_json()
    assert len(inspections) == 1
    with servers[0].app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
    assert [key for key in objects(s3, bucket) if "/tmp/" in key] == []
    for app in servers:
        assert _local_files(app) == []
