"""When a shared service is down, visitors' entries still go in.

On the scale-out path the rate-limit counters and the job queue live in Redis. These tests
point them at a loopback port where nothing listens (the connection is refused at once, as
when Redis has stopped) and check that an upload is still accepted and nothing is lost.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contest.extensions import db
from contest.models import Entry

from .conftest import entry_form
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
