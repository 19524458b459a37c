"""H.264 phone clips become playable by a remux (streams copied, nothing else), others transcoded.

The copies are read back with Debian's ffprobe (`make test` installs it when missing): what a
player's demuxer sees, independently of the PyAV that wrote them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.media.isobmff import top_level_boxes
from contest.media.video_remux import can_remux
from contest.models import Entry

from .media.videogen import write_clip

# What the MP4 muxer writes by itself into every file: the ftyp box's brands, and in each
# track's hdlr/mdhd its default handler name, "und" language and (for MOV) vendor. Anything
# else would have come from the source.
MUXER_FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands"}
MUXER_STREAM_TAGS = {
    ("language", "und"),
    ("handler_name", "VideoHandler"),
    ("handler_name", "SoundHandler"),
    ("vendor_id", "[0][0][0][0]"),
}
PLACE = "+37.5665+126.9780/"


def ffprobe(path: Path) -> dict:
    """ffprobe's view of a file: format, streams (with side data) and their tags."""
    assert shutil.which("ffprobe"), "ffprobe is missing: `make test` installs Debian's ffmpeg"
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
        + [str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def phone_h264_mov(path: Path, *, rotation: int = 0, seconds: float = 1.0) -> Path:
    """An H.264/AAC MOV carrying what phones and editors add: tags, a location, extra tracks.

    A timecode (data) track, container tags with the place and the time it was shot, and
    stream tags naming the phone's handler. (A second video track is refused at the upload.)
    """
    fps = 15
    with av.open(str(path), "w", format="mov") as out:
        out.metadata.update(
            {
                "location": PLACE,
                "creation_time": "2026-12-03T01:02:03Z",
                "title": "우리 동네",
                "com.apple.quicktime.make": "Apple",
            }
        )
        main = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        main.width, main.height, main.pix_fmt = 320, 240, "yuv420p"
        main.metadata.update(
            {"timecode": "01:00:00:00", "handler_name": "Core Media Video", "language": "kor"}
        )
        if rotation:
            main.set_display_rotation(-rotation)
        sound = out.add_stream("aac", rate=48000)
        sound.metadata["handler_name"] = "Core Media Audio"
        for i in range(round(fps * seconds)):
            frame = av.VideoFrame(main.width, main.height, "yuv420p")
            for plane in frame.planes:  # a picture that changes, so frames differ
                plane.update(bytes([(i * 16) % 256]) * plane.buffer_size)
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(main.encode(frame))
        out.mux(main.encode(None))
        silence = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        for plane in silence.planes:
            plane.update(bytes(plane.buffer_size))
        silence.sample_rate = 48000
        for n in range(round(seconds * 48000 / 1024)):
            silence.pts = n * 1024
            out.mux(sound.encode(silence))
        out.mux(sound.encode(None))
    return path


def packet_digests(path: Path, kind: str) -> list[str]:
    """The SHA-256 of each packet of the file's first stream of `kind`, in file order."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [hashlib.sha256(bytes(p)).hexdigest() for p in container.demux(stream) if p.size]


def _send(submit, path: Path):
    response = submit(json=True, media=path.read_bytes(), filename=path.name)
    assert response.status_code == 201, response.get_json()
    return response


def _playback(app, upload_folder: Path) -> Path:
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.playback_status == "ready", entry.playback_error
        return upload_folder / entry.asset("playback").key


def test_an_h264_phone_clip_is_remuxed_with_nothing_but_its_video_and_audio(
    app, submit, upload_folder, tmp_path
):
    source = phone_h264_mov(tmp_path / "android.mov")
    seen = ffprobe(source)
    assert [s["codec_type"] for s in seen["streams"]] == ["video", "audio", "data"]
    assert seen["format"]["tags"]["location"] == PLACE  # what must not travel

    _send(submit, source)
    copy = _playback(app, upload_folder)

    probed = ffprobe(copy)
    streams = probed["streams"]
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [
        ("video", "h264"),
        ("audio", "aac"),
    ]
    assert set(probed["format"].get("tags", {})) <= MUXER_FORMAT_TAGS
    for stream in streams:
        assert set(stream.get("tags", {}).items()) <= MUXER_STREAM_TAGS, stream["tags"]
    raw = copy.read_bytes()
    assert PLACE.encode() not in raw and b"\xa9xyz" not in raw and b"Core Media" not in raw
    # A remux: the very packets of the source, not a re-encode.
    assert packet_digests(copy, "video") == packet_digests(source, "video")
    assert packet_digests(copy, "audio") == packet_digests(source, "audio")
    # faststart: the index comes before the media, so a browser plays before the end arrives.
    with open(copy, "rb") as f:
        kinds = [box.type for box in top_level_boxes(f, copy.stat().st_size)]
    assert kinds.index("moov") < kinds.index("mdat")


def test_a_remuxed_upright_clip_keeps_its_display_matrix(app, submit, upload_folder, tmp_path):
    source = phone_h264_mov(tmp_path / "upright.mov", rotation=90)
    _send(submit, source)
    copy = _playback(app, upload_folder)

    video = ffprobe(copy)["streams"][0]
    matrices = [d for d in video.get("side_data_list", []) if "rotation" in d]
    assert [m["rotation"] for m in matrices] == [-90]  # ffprobe's counterclockwise degrees
    with av.open(str(copy)) as played:
        frame = next(played.decode(video=0))
        assert frame.rotation == -90
    assert packet_digests(copy, "video") == packet_digests(source, "video")


def test_a_silent_h264_mp4_is_remuxed_without_an_audio_track(app, submit, upload_folder, tmp_path):
    source = write_clip(tmp_path / "silent.mp4", audio_codec=None, seconds=1.2)
    _send(submit, source)
    copy = _playback(app, upload_folder)
    assert [s["codec_type"] for s in ffprobe(copy)["streams"]] == ["video"]
    assert packet_digests(copy, "video") == packet_digests(source, "video")


@pytest.mark.parametrize(
    ("name", "clip", "why"),
    [
        ("hevc.mov", {"container": "mov", "video_codec": "libx265"}, "HEVC"),
        ("ten-bit.mp4", {"pix_fmt": "yuv420p10le"}, "10-bit H.264"),
        ("large.mp4", {"size": (2560, 1440), "seconds": 1.0, "fps": 5}, "over 1080p"),
    ],
)
def test_other_sources_are_still_transcoded(app, submit, upload_folder, tmp_path, name, clip, why):
    pix_fmt = clip.pop("pix_fmt", None)
    options = {"seconds": 1.2, **clip}
    source = tmp_path / name
    if pix_fmt:
        _ten_bit_h264(source)
    else:
        write_clip(source, **options)
    assert not can_remux(source), why
    _send(submit, source)
    copy = _playback(app, upload_folder)

    streams = ffprobe(copy)["streams"]
    video = streams[0]
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert max(video["width"], video["height"]) <= 1280  # the transcode's 720p box
    assert [s["codec_name"] for s in streams[1:]] in ([], ["aac"])
    assert packet_digests(copy, "video") != packet_digests(source, "video")


def _ten_bit_h264(path: Path) -> Path:
    """An 8-bit-looking phone clip encoded as High 10 H.264 (yuv420p10le), which Chrome refuses."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=15, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p10le"
        for i in range(18):
            frame = av.VideoFrame(320, 240, "yuv420p").reformat(format="yuv420p10le")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_only_browser_ready_sources_are_remuxed(tmp_path):
    assert can_remux(phone_h264_mov(tmp_path / "phone.mov"))
    assert can_remux(write_clip(tmp_path / "plain.mp4", seconds=1))
    assert not can_remux(
        write_clip(
            tmp_path / "vp9.webm",
            container="webm",
            video_codec="libvpx-vp9",
            audio_codec="libopus",
            seconds=1,
        )
    )
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64)
    assert not can_remux(tmp_path / "junk.mp4")
