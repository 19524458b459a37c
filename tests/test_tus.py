"""Resumable uploads (tus 1.0.0) through the test client: every answer of the protocol."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tracemalloc
from datetime import timedelta

from sqlalchemy import select

from contest.core.extensions import db
from contest.models import Entry, Upload

from .conftest import entry_form, stored_files
from .photos import photo_bytes

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(client, length: int, filetype: str = "image/jpeg", body: bytes | None = None):
    headers = {
        **TUS,
        "Upload-Length": str(length),
        "Upload-Metadata": _meta(filename="사진.jpg", filetype=filetype),
    }
    if body is None:
        return client.post("/uploads", headers=headers)
    return client.post("/uploads", headers=headers, data=body, content_type=OCTETS)


def patch(client, url: str, offset: int, body: bytes, **headers):
    return client.patch(
        url,
        data=body,
        content_type=OCTETS,
        headers={**TUS, "Upload-Offset": str(offset), **headers},
    )


def test_options_advertise_the_protocol(client, app):
    response = client.options("/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    extensions = response.headers["Tus-Extension"].split(",")
    assert {"creation", "creation-with-upload", "termination", "expiration"} <= set(extensions)
    assert int(response.headers["Tus-Max-Size"]) == app.config["VIDEO_MAX_BYTES"]


def test_an_upload_in_pieces_then_its_offset(client, upload_folder):
    data = photo_bytes()
    created = create(client, len(data))
    assert created.status_code == 201
    url = created.headers["Location"]
    assert url.startswith("/uploads/") and len(url.rsplit("/", 1)[1]) >= 22  # >= 128 bits
    assert created.headers["Upload-Expires"]

    head = client.head(url, headers=TUS)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"

    half = len(data) // 2
    first = patch(client, url, 0, data[:half])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == str(half)
    assert patch(client, url, 0, data[:half]).status_code == 409  # not where it stands
    last = patch(client, url, half, data[half:])
    assert last.headers["Upload-Offset"] == str(len(data))
    assert client.head(url, headers=TUS).headers["Upload-Offset"] == str(len(data))
    (stored,) = (upload_folder / "tmp" / "tus").iterdir()
    assert stored.read_bytes() == data


def test_creation_with_upload_and_checksum(client):
    data = b"x" * 1000
    created = create(client, 2000, body=data)
    assert created.status_code == 201 and created.headers["Upload-Offset"] == "1000"
    url = created.headers["Location"]
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    refused = patch(client, url, 1000, data, **{"Upload-Checksum": f"sha256 {wrong}"})
    assert refused.status_code == 460
    assert client.head(url, headers=TUS).headers["Upload-Offset"] == "1000"  # cut back
    right = base64.b64encode(hashlib.sha256(data).digest()).decode()
    done = patch(client, url, 1000, data, **{"Upload-Checksum": f"sha256 {right}"})
    assert done.headers["Upload-Offset"] == "2000"


def test_too_large_for_its_kind_is_refused_before_a_byte(client, app, upload_folder):
    photo_limit = app.config["PHOTO_MAX_BYTES"]
    assert create(client, photo_limit + 1).status_code == 413
    assert create(client, photo_limit + 1, filetype="video/mp4").status_code == 201
    assert create(client, app.config["VIDEO_MAX_BYTES"] + 1, "video/mp4").status_code == 413
    url = create(client, 10).headers["Location"]
    assert patch(client, url, 0, b"y" * 11).status_code == 413
    assert client.head(url, headers=TUS).headers["Upload-Offset"] == "0"


def test_unknown_other_sessions_and_wrong_requests(app, client):
    url = create(client, 10).headers["Location"]
    assert client.head("/uploads/nope", headers=TUS).status_code == 404
    stranger = app.test_client()
    assert stranger.head(url, headers=TUS).status_code == 404
    assert patch(stranger, url, 0, b"a").status_code == 404
    assert stranger.delete(url, headers=TUS).status_code == 404
    assert client.head(url).status_code == 412  # no Tus-Resumable
    wrong_type = client.patch(url, data=b"a", headers={**TUS, "Upload-Offset": "0"})
    assert wrong_type.status_code == 415


def test_termination_removes_the_bytes(client, upload_folder):
    url = create(client, 10, body=b"12345").headers["Location"]
    assert client.delete(url, headers=TUS).status_code == 204
    assert client.head(url, headers=TUS).status_code == 404
    assert stored_files(upload_folder) == []


def test_an_expired_upload_answers_410(app, client):
    url = create(client, 10).headers["Location"]
    with app.app_context():
        upload = db.session.scalars(select(Upload)).one()
        upload.created_at -= timedelta(seconds=app.config["UPLOAD_EXPIRY"] + 1)
        db.session.commit()
    assert client.head(url, headers=TUS).status_code == 410
    assert patch(client, url, 0, b"a").status_code == 410


def test_creating_uploads_is_rate_limited(make_app):
    app = make_app(SUBMIT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    assert [create(client, 10).status_code for _ in range(3)] == [201, 201, 429]


def test_csrf_token_is_required_in_a_header(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert create(client, 10).status_code == 400
    token = client.get("/submit/token").get_json()["csrf_token"]
    created = client.post("/uploads", headers={**TUS, "Upload-Length": "3", "X-CSRFToken": token})
    assert created.status_code == 201
    url = created.headers["Location"]
    assert patch(client, url, 0, b"abc").status_code == 400
    assert patch(client, url, 0, b"abc", **{"X-CSRFToken": token}).status_code == 204


def _upload_whole(client, data: bytes, filetype: str = "image/jpeg") -> str:
    url = create(client, len(data), filetype).headers["Location"]
    assert patch(client, url, 0, data).headers["Upload-Offset"] == str(len(data))
    return url.rsplit("/", 1)[1]


def test_the_form_names_a_finished_upload(app, client, upload_folder):
    data = photo_bytes()
    upload_id = _upload_whole(client, data)
    fields = entry_form(media=None, upload=upload_id)
    del fields["media"]
    response = client.post("/submit", data=fields, headers={"Accept": "application/json"})
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert entry.original_filename == "사진.jpg"
        assert db.session.scalars(select(Upload)).all() == []
    assert not any(name.startswith("tmp/") for name in stored_files(upload_folder))


def test_an_unfinished_or_foreign_upload_is_refused_beside_the_file(app, client):
    url = create(client, 100).headers["Location"]
    fields = entry_form(upload=url.rsplit("/", 1)[1])
    del fields["media"]
    response = client.post("/submit", data=fields, headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert "media" in response.get_json()["errors"]

    upload_id = _upload_whole(client, photo_bytes())
    fields["upload"] = upload_id
    stranger = app.test_client()
    response = stranger.post("/submit", data=fields, headers={"Accept": "application/json"})
    assert response.status_code == 404 and "media" in response.get_json()["errors"]


def test_a_refused_file_gives_its_upload_up(app, client, upload_folder):
    upload_id = _upload_whole(client, b"not a photo at all" * 100)
    fields = entry_form(upload=upload_id)
    del fields["media"]
    response = client.post("/submit", data=fields, headers={"Accept": "application/json"})
    assert response.status_code in (415, 422)
    assert "media" in response.get_json()["errors"]
    assert stored_files(upload_folder) == []


def test_a_form_error_keeps_the_upload_for_the_next_try(app, client):
    upload_id = _upload_whole(client, photo_bytes())
    fields = entry_form(upload=upload_id, title="")
    del fields["media"]
    assert client.post("/submit", data=fields).status_code == 400
    fields["title"] = "두 번째"
    response = client.post("/submit", data=fields)
    assert response.status_code == 303


def test_without_file_or_upload_the_file_is_asked_for(client):
    fields = entry_form()
    del fields["media"]
    response = client.post("/submit", data=fields, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["errors"]["media"] == ["사진이나 영상 파일을 선택해 주세요."]


def _age_uploads(app, seconds: float) -> None:
    with app.app_context():
        for upload in db.session.scalars(select(Upload)):
            upload.created_at -= timedelta(seconds=seconds)
        db.session.commit()


def test_the_worker_removes_expired_uploads(app, client, upload_folder):
    from contest.core import jobs

    old = create(client, 10, body=b"12345").headers["Location"]
    _age_uploads(app, app.config["UPLOAD_EXPIRY"] + 1)
    young = create(client, 10, body=b"12345").headers["Location"]
    with app.app_context():
        assert jobs.remove_expired_uploads() == 1
    assert client.head(old, headers=TUS).status_code == 404
    assert client.head(young, headers=TUS).headers["Upload-Offset"] == "5"
    assert len(list((upload_folder / "tmp" / "tus").iterdir())) == 1


def test_doctor_lists_and_repairs_expired_uploads(app, client, runner, upload_folder):
    create(client, 10, body=b"12345")
    _age_uploads(app, app.config["UPLOAD_EXPIRY"] + 1)
    report = runner.invoke(args=["doctor"])
    assert "expired-upload" in report.output
    repaired = runner.invoke(args=["doctor", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert stored_files(upload_folder) == []
    with app.app_context():
        assert db.session.scalars(select(Upload)).all() == []


def test_a_big_piece_is_streamed_to_disk_not_held_in_memory(client, upload_folder):
    size = 32 * 1024 * 1024
    body = io.BytesIO(os.urandom(size))
    url = create(client, size, "video/mp4").headers["Location"]
    tracemalloc.start()
    try:
        answer = client.patch(
            url,
            input_stream=body,
            content_length=size,
            content_type=OCTETS,
            headers={**TUS, "Upload-Offset": "0"},
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.headers["Upload-Offset"] == str(size)
    assert peak < 4 * 1024 * 1024, peak  # a few 64 KiB reads, never the piece
    (stored,) = (upload_folder / "tmp" / "tus").iterdir()
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(body.getvalue()).digest()
