"""Video entries through the same form: probed, postered, made playable in the background."""

from __future__ import annotations

import re
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import Asset, Entry
from contest.services import playback

from .conftest import stored_files
from .media.videogen import (
    lie_about_duration,
    loop_with_edit_list,
    vertical_iphone_like,
    write_clip,
)
from .media_cache import made_once


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """One clip of each kind, encoded once per run (tests/media_cache.py)."""
    return made_once(tmp_path_factory, "entry-video-clips", _make_clips)


def _make_clips(folder: Path) -> None:
    write_clip(folder / "h264.mp4", seconds=1.5)
    vertical_iphone_like(
        folder / "iphone.mov",
        seconds=1.5,
        metadata={"location": "+37.5665+126.9780/", "creation_time": "2026-12-03T01:02:03Z"},
    )
    write_clip(
        folder / "vp9.webm",
        container="webm",
        video_codec="libvpx-vp9",
        audio_codec="libopus",
        seconds=1.5,
    )
    write_clip(folder / "long.mp4", size=(64, 48), fps=1, seconds=200, audio_codec=None)
    # Hostile: headers that understate, and an edit list that replays 3 s a thousand times.
    lying = write_clip(
        folder / "lying-long.mp4", size=(64, 48), fps=1, seconds=200, audio_codec=None
    )
    lie_about_duration(lying, 10)
    lie_about_duration(write_clip(folder / "lying.mp4", size=(64, 48), fps=5, seconds=20), 2)
    loop_with_edit_list(write_clip(folder / "loop.mp4", seconds=3), entries=1000)


def _entry(app) -> Entry:
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        _ = entry.assets, entry.category
        return entry


def _send(submit, path: Path, **fields):
    return submit(json=True, media=path.read_bytes(), filename=path.name, **fields)


@pytest.mark.parametrize(
    ("name", "codec", "container"),
    [("h264.mp4", "h264", "mp4"), ("iphone.mov", "hevc", "mov"), ("vp9.webm", "vp9", "webm")],
)
def test_phone_clips_are_accepted_with_a_poster_and_a_playable_copy(
    app, client, submit, upload_folder, clips, name, codec, container
):
    response = _send(submit, clips / name)
    assert response.status_code == 201, response.get_json()
    entry = _entry(app)
    assert entry.category.kind == "video"
    assert (entry.video_codec, entry.media_format) == (codec, container)
    assert entry.duration == pytest.approx(1.5, abs=0.2)
    # Jobs run at once under TESTING: the playback copy is already there.
    assert entry.playback_status == "ready"
    roles = {a.role: a for a in entry.assets}
    assert set(roles) == {"original", "preview", "thumbnail", "playback"}
    with av.open(str(upload_folder / roles["playback"].key)) as played:
        stream = played.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert "location" not in played.metadata and "creation_time" not in played.metadata

    page = client.get(response.get_json()["url"]).get_data(as_text=True)
    poster, playback = roles["preview"].key, roles["playback"].key
    video_tag = rf'<video [^>]*controls preload="metadata"[^>]*poster="/media/{poster}"'
    assert re.search(video_tag, page, re.S)
    assert f'<source src="/media/{playback}" type="video/mp4">' in page


def test_a_vertical_iphone_clip_stays_vertical(app, submit, upload_folder, clips):
    assert _send(submit, clips / "iphone.mov").status_code == 201
    entry = _entry(app)
    assert (entry.width, entry.height, entry.rotation) == (240, 320, 90)
    roles = {a.role: a for a in entry.assets}
    assert roles["preview"].height > roles["preview"].width
    with av.open(str(upload_folder / roles["playback"].key)) as played:
        stream = played.streams.video[0]
        assert stream.height > stream.width


def test_playback_copies_answer_range_requests(app, client, submit, clips):
    _send(submit, clips / "h264.mp4")
    key = next(a.key for a in _entry(app).assets if a.role == "playback")
    with client.get(f"/media/{key}") as whole:
        assert whole.headers["Content-Type"] == "video/mp4"
        data = whole.data
    with client.get(f"/media/{key}", headers={"Range": "bytes=0-99"}) as part:
        assert part.status_code == 206 and part.data == data[:100]


def test_until_the_copy_is_ready_the_receipt_shows_processing(make_app, clips):
    app = make_app(HUEY_IMMEDIATE=False)  # a real SQLite queue, and no worker yet
    client = app.test_client()
    response = client.post(
        "/submit",
        data={**_form(), "media": ((clips / "iphone.mov").open("rb"), "IMG_0420.MOV")},
        content_type="multipart/form-data",
    )
    receipt = response.headers["Location"]
    page = client.get(receipt).get_data(as_text=True)
    assert "처리 중" in page and "<video" not in page
    assert _entry(app).playback_status == "pending"

    queue = app.extensions["contest.huey"]
    queue.execute(queue.dequeue())  # what `flask worker` does
    assert _entry(app).playback_status == "ready"
    assert "<video" in client.get(receipt).get_data(as_text=True)


def test_a_failed_copy_is_recorded_and_doctor_repair_queues_it_again(app, runner, submit, clips):
    app.config["VIDEO_TRANSCODE_TIMEOUT"] = 0  # every transcode now runs out of time
    assert _send(submit, clips / "h264.mp4").status_code == 201
    entry = _entry(app)
    assert entry.playback_status == "failed" and entry.playback_error
    assert entry.asset("playback") is None
    report = runner.invoke(args=["doctor"])
    assert report.exit_code == 1 and "playback-failed" in report.output

    app.config["VIDEO_TRANSCODE_TIMEOUT"] = 600
    assert runner.invoke(args=["doctor", "--repair"]).exit_code == 0
    assert _entry(app).playback_status == "ready"
    assert runner.invoke(args=["doctor"]).exit_code == 0


def test_a_lost_poster_is_rebuilt_from_the_video(app, runner, submit, upload_folder, clips):
    _send(submit, clips / "vp9.webm")
    poster = next(a for a in _entry(app).assets if a.role == "preview")
    (upload_folder / poster.key).unlink()
    assert runner.invoke(args=["doctor", "--repair"]).exit_code == 0
    rebuilt = next(a for a in _entry(app).assets if a.role == "preview")
    assert (upload_folder / rebuilt.key).stat().st_size == rebuilt.size == poster.size


def _form() -> dict:
    return {
        "title": "체험마당 영상",
        "name": "김영희",
        "email": "yh@example.com",
        "phone": "010-3333-4444",
        "consent": "y",
        "declaration": "y",
    }


def _refused(app, submit, upload_folder, content: bytes, filename: str, status: int) -> str:
    response = submit(json=True, media=content, filename=filename)
    assert response.status_code == status, response.get_json()
    with app.app_context():
        assert db.session.scalar(select(Entry.id)) is None
        assert db.session.scalar(select(Asset.id)) is None
    assert stored_files(upload_folder) == []
    return response.get_json()["errors"]["media"][0]


def test_a_too_long_clip_is_refused_with_both_durations(app, submit, upload_folder, clips):
    message = _refused(app, submit, upload_folder, (clips / "long.mp4").read_bytes(), "a.mp4", 422)
    assert "3분 이내" in message and "3분 20초" in message


def test_an_audio_only_file_is_refused(app, submit, upload_folder, tmp_path):
    write_clip(tmp_path / "voice.m4a", container="mp4", video_codec=None, seconds=1.5)
    message = _refused(
        app, submit, upload_folder, (tmp_path / "voice.m4a").read_bytes(), "voice.mp4", 422
    )
    assert "영상이 들어 있지 않은" in message


def test_a_truncated_clip_is_refused(app, submit, upload_folder, clips):
    whole = (clips / "h264.mp4").read_bytes()
    message = _refused(app, submit, upload_folder, whole[: len(whole) // 2], "cut.mp4", 422)
    assert "손상" in message


def test_playlists_that_name_another_entry_s_file_are_refused(app, submit, upload_folder, clips):
    # A real entry's original sits in the upload folder; the playlists point at it.
    assert _send(submit, clips / "h264.mp4", phone="010-1111-0000", email="x@example.com")
    with app.app_context():
        original = db.session.scalars(select(Asset).where(Asset.role == "original")).one()
        victim = upload_folder / original.key
        entry_id = original.entry_id
    ffconcat = f"ffconcat version 1.0\nfile '{victim}'\n".encode()
    playlist = f"#EXTM3U\n#EXTINF:10,\n{victim}\n#EXT-X-ENDLIST\n".encode()
    for content, name in ((ffconcat, "clip.mp4"), (playlist, "clip.m3u8"), (playlist, "v.mp4")):
        response = submit(json=True, media=content, filename=name)
        assert response.status_code == 415
        assert (
            "사진(JPG, PNG, WebP, HEIC)이나 영상(MP4, MOV, WebM)"
            in (response.get_json()["errors"]["media"][0])
        )
    with app.app_context():
        assert db.session.scalars(select(Entry.id)).all() == [entry_id]


def test_a_video_over_its_size_limit_gets_413(make_app, clips):
    app = make_app(VIDEO_MAX_BYTES=1_000)
    response = app.test_client().post(
        "/submit",
        data={**_form(), "media": ((clips / "h264.mp4").open("rb"), "big.mp4")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert "영상은" in response.get_json()["errors"]["media"][0]


def test_a_too_long_clip_whose_headers_say_10_s_is_refused(app, submit, upload_folder, clips):
    data = (clips / "lying-long.mp4").read_bytes()
    message = _refused(app, submit, upload_folder, data, "a.mp4", 422)
    assert message == "영상은 3분 이내여야 합니다 (3분 20초)."


def test_a_clip_replaying_itself_through_its_edit_list_is_refused(
    app, submit, upload_folder, clips
):
    message = _refused(app, submit, upload_folder, (clips / "loop.mp4").read_bytes(), "a.mp4", 422)
    assert "같은 장면을 여러 번 이어 붙이는 편집 정보" in message


def test_a_clip_whose_headers_understate_it_is_recorded_and_copied_at_its_real_length(
    app, submit, upload_folder, clips
):
    assert _send(submit, clips / "lying.mp4").status_code == 201
    entry = _entry(app)
    assert entry.duration == pytest.approx(20, abs=0.1)  # its headers say 2 s
    copy = next(a for a in entry.assets if a.role == "playback")
    with av.open(str(upload_folder / copy.key)) as played:
        seconds = played.duration / av.time_base
    assert entry.duration - 0.2 <= seconds <= entry.duration + 1


def test_the_copy_s_time_budget_and_length_derive_from_the_duration(
    app, submit, clips, monkeypatch
):
    calls = []
    real = playback.make_playback

    def spy(source, target, **limits):
        calls.append(limits)
        return real(source, target, **limits)

    monkeypatch.setattr(playback, "make_playback", spy)
    assert _send(submit, clips / "h264.mp4").status_code == 201
    duration = _entry(app).duration
    assert duration == pytest.approx(1.5, abs=0.1)
    # A minute, plus 20 s a second: 90 s for this clip, not VIDEO_TRANSCODE_TIMEOUT's 30 min.
    assert calls == [{"timeout": 60 + 20 * duration, "max_seconds": duration + 1}]


@pytest.mark.parametrize(
    ("duration", "settings", "budget"),
    [
        (3.0, {}, 120),  # the 3 s clip that made 50 minutes: two minutes at most
        (180, {}, 30 * 60),  # a long 4K clip: the timeout is the cap
        (None, {}, 30 * 60),  # a row from before the measurement: the cap
        (10, {"VIDEO_TRANSCODE_TIMEOUT": 100}, 100),  # the timeout still caps
        (10, {"VIDEO_TRANSCODE_SECONDS_PER_SECOND": 5}, 110),
    ],
)
def test_the_time_budget_formula(app, duration, settings, budget):
    config = {**app.config, **settings}
    assert playback.time_budget(duration, config) == budget
