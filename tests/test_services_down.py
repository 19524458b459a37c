"""When a shared service is down, visitors' entries still go in, or are clearly refused.

On the scale-out path the rate-limit counters and the job queue live in Redis and the files in
an object store. These tests point them at a loopback port where nothing listens (the
connection is refused at once, as when the service has stopped). Without Redis an upload is
still accepted and nothing is lost; without the object store nothing can be kept, so the
visitor is told so (503, typing kept) and nothing is left behind.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contest import create_app
from contest.core.extensions import db
from contest.models import Asset, Entry

from .conftest import _config, entry_form, stored_files
from .media.videogen import write_clip

NOWHERE = "redis://127.0.0.1:1/0"  # a loopback port nothing listens on


def test_an_entry_goes_in_while_the_rate_limit_store_is_down(make_app):
    app = make_app(RATELIMIT_STORAGE_URI=NOWHERE)
    response = app.test_client().post(
        "/submit", data=entry_form(), headers={"Accept": "application/json"}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Entry.receipt)) == response.json["receipt"]


def test_the_limit_still_holds_in_memory_while_its_store_is_down(make_app):
    app = make_app(RATELIMIT_STORAGE_URI=NOWHERE, SUBMIT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [client.post("/submit", data={}).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", seconds=1.2)


def test_a_video_goes_in_while_the_job_queue_is_down(make_app, clip, caplog):
    app = make_app(HUEY_URL=NOWHERE, HUEY_IMMEDIATE=False)
    form = entry_form(media=clip.read_bytes(), filename="clip.mp4")
    response = app.test_client().post("/submit", data=form, headers={"Accept": "application/json"})
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        # Recorded for the admins: `doctor` lists it, `doctor --repair` queues it again.
        assert entry.playback_status == "failed"
        assert entry.playback_error.startswith("not queued: ConnectionError")
    assert "could not queue the playback copy" in caplog.text
    report = app.test_cli_runner().invoke(args=["doctor"])
    assert report.exit_code == 1 and "playback-failed" in report.output


@pytest.fixture
def store_down(monkeypatch) -> dict:
    """Settings of an object store that refuses connections (with credentials, so boto3
    really tries to reach it)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    return {
        "STORAGE_URL": "s3://contest/site",
        "S3_ENDPOINT_URL": "http://127.0.0.1:1",
        "S3_REGION": "us-east-1",
    }


def test_an_entry_is_refused_clearly_while_the_object_store_is_down(make_app, store_down):
    app = make_app(**store_down)
    client = app.test_client()
    answer = client.post("/submit", data=entry_form(), headers={"Accept": "application/json"})
    assert answer.status_code == 503
    assert "접수되지 않았습니다" in answer.json["errors"]["_form"][0]

    page = client.post("/submit", data=entry_form(title="다시 올릴 사진"))
    assert page.status_code == 503
    assert "다시 올릴 사진" in page.get_data(as_text=True)  # the typing is kept
    with app.app_context():
        assert db.session.scalar(select(Entry.id)) is None
    assert stored_files(app.config["UPLOAD_FOLDER"]) == []  # no upload left in tmp/


def test_media_answers_503_while_the_object_store_is_down(make_entry, app, tmp_path, store_down):
    make_entry()
    with app.app_context():
        key = db.session.scalar(select(Asset.key).where(Asset.role == "thumbnail"))
    down = create_app(_config(tmp_path, **store_down))  # the same database, its store gone
    response = down.test_client().get(f"/media/{key}")
    assert response.status_code == 503
    assert "다시 시도해 주세요" in response.get_data(as_text=True)
