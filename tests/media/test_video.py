"""inspect_video and make_playback: which videos are accepted, what they yield, what is refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from contest.media import Rejected, video_probe
from contest.media.photo import Derivative
from contest.media.video import (
    MAX_EDITS_PER_TRACK,
    PlaybackError,
    Video,
    inspect_video,
    make_playback,
)

from ..media_cache import made_once
from .imagegen import encode, quadrants
from .videogen import (
    BLUE,
    RED,
    add_to_movie,
    lie_about_duration,
    loop_with_edit_list,
    vertical_iphone_like,
    write_clip,
)

UNSUPPORTED = "지원하지 않는 영상 형식입니다. MP4, MOV, WebM 영상만 올릴 수 있습니다."
DAMAGED = "영상 파일이 손상되었거나 전송 중에 잘렸습니다. 다시 보내 주세요."
TIMEOUT = "영상을 확인하는 데 시간이 너무 오래 걸립니다. 다른 파일로 다시 시도해 주세요."
EDIT_LIST = (
    "같은 장면을 여러 번 이어 붙이는 편집 정보가 들어 있어 올릴 수 없는 영상입니다. "
    "휴대전화로 찍은 영상이나 편집 앱에서 내보낸 영상을 올려 주세요."
)
LOCATION = "+37.5665+126.9780"
PROBE_SCRIPT = Path(__file__).parents[2] / "contest" / "media" / "video_probe.py"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding each kind of clip, encoded once per run (tests/media_cache.py)."""
    return made_once(tmp_path_factory, "media-video-clips", _make_clips)


def _make_clips(folder: Path) -> None:
    # The MP4's clock says 1970: an unset phone clock, never a capture date.
    write_clip(folder / "h264.mp4", metadata={"creation_time": "1970-01-01T00:00:00Z"})
    vertical_iphone_like(
        folder / "iphone.mov",
        metadata={
            "creation_time": "2026-11-25T05:06:07Z",
            "location": LOCATION + "/",
            "com.apple.quicktime.location.ISO6709": LOCATION + "+012.345/",
        },
        # Writes the Apple `mdta` keys as an iPhone does, next to the classic ©xyz atom.
        options={"movflags": "use_metadata_tags"},
    )
    write_clip(
        folder / "vp9.webm", container="webm", video_codec="libvpx-vp9", audio_codec="libopus"
    )


def rejected(path: Path, **kwargs: float) -> Rejected:
    """Run inspect_video on a file it must refuse, and return the refusal."""
    with pytest.raises(Rejected) as caught:
        inspect_video(path, **kwargs)
    return caught.value


def reopen(derivative: Derivative) -> Image.Image:
    """Decode a derivative, checking that it is a JPEG without any metadata."""
    im = Image.open(io.BytesIO(derivative.data))
    assert im.format == "JPEG"
    assert (derivative.content_type, derivative.extension) == ("image/jpeg", ".jpg")
    assert im.size == (derivative.width, derivative.height)
    for key in ("exif", "icc_profile", "comment", "xmp"):
        assert key not in im.info
    assert b"Exif" not in derivative.data
    im.load()
    return im


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 50) -> bool:
    """Whether two colours match within the codecs' error."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# Accepted


def test_h264_mp4_is_accepted_and_browser_ready(clips: Path) -> None:
    video = inspect_video(clips / "h264.mp4")
    assert (video.container, video.extension, video.content_type) == ("mp4", ".mp4", "video/mp4")
    assert (video.video_codec, video.audio_codec) == ("h264", "aac")
    assert (video.width, video.height, video.rotation) == (320, 240, 0)
    assert video.duration == pytest.approx(2.0, abs=0.1)
    assert video.frame_rate == pytest.approx(15)
    assert video.browser_ready is True
    assert video.captured_at is None  # 1970 is an unset clock
    poster, thumbnail = reopen(video.poster), reopen(video.thumbnail)
    assert poster.size == (320, 240)  # never enlarged
    assert max(thumbnail.size) <= 480


def test_hevc_mov_is_accepted_but_not_browser_ready(clips: Path) -> None:
    video = inspect_video(clips / "iphone.mov")
    assert (video.container, video.extension, video.content_type) == (
        "mov",
        ".mov",
        "video/quicktime",
    )
    assert (video.video_codec, video.audio_codec) == ("hevc", "aac")
    assert video.browser_ready is False
    assert video.captured_at == datetime(2026, 11, 25, 5, 6, 7, tzinfo=UTC)


def test_vp9_opus_webm_is_accepted(clips: Path) -> None:
    video = inspect_video(clips / "vp9.webm")
    assert (video.container, video.extension, video.content_type) == (
        "webm",
        ".webm",
        "video/webm",
    )
    assert (video.video_codec, video.audio_codec) == ("vp9", "opus")
    assert video.duration == pytest.approx(2.0, abs=0.1)
    assert video.browser_ready is False


def test_silent_av1_matroska_is_accepted(tmp_path: Path) -> None:
    path = write_clip(
        tmp_path / "clip.mkv", container="matroska", video_codec="libsvtav1", audio_codec=None
    )
    video = inspect_video(path)
    assert (video.container, video.extension, video.content_type) == (
        "matroska",
        ".mkv",
        "video/x-matroska",
    )
    assert (video.video_codec, video.audio_codec) == ("av1", None)


def test_vertical_clip_is_displayed_vertical_with_an_upright_poster(clips: Path) -> None:
    video = inspect_video(clips / "iphone.mov")
    assert video.rotation == 90
    assert (video.width, video.height) == (240, 320)
    poster = reopen(video.poster)
    assert poster.size == (240, 320)
    # The upright picture is red in its top quarter and blue below.
    assert close_to(poster.getpixel((120, 20)), RED)
    assert close_to(poster.getpixel((120, 300)), BLUE)
    assert close_to(poster.getpixel((10, 160)), BLUE)
    thumbnail = reopen(video.thumbnail)
    assert thumbnail.height > thumbnail.width


def test_location_never_leaves_the_probe(clips: Path) -> None:
    # The clip really carries both location atoms...
    with av.open(str(clips / "iphone.mov")) as container:
        assert LOCATION in container.metadata["location"]
        assert LOCATION in container.metadata["com.apple.quicktime.location.ISO6709"]
    # ...and none of it reaches the Video or the JPEGs.
    video = inspect_video(clips / "iphone.mov")
    fields = {k: v for k, v in asdict(video).items() if k not in ("poster", "thumbnail")}
    assert "37.5665" not in repr(fields)
    for derivative in (video.poster, video.thumbnail):
        assert b"37.5665" not in derivative.data
        assert b"ISO6709" not in derivative.data


@pytest.mark.parametrize("gop_seconds", [0.5, 2])
def test_poster_comes_from_about_one_second_in(tmp_path: Path, gop_seconds: float) -> None:
    # Each second of a 12 s clip has its own colour; the poster is taken at 1 s, whether a
    # keyframe sits just before it or only at the start (decoded forward from 0).
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    path = write_clip(
        tmp_path / "seconds.mp4",
        fps=10,
        seconds=12,
        audio_codec=None,
        gop_seconds=gop_seconds,
        picture=lambda i: Image.new("RGB", (320, 240), colours[min(i // 10, 2)]),
    )
    poster = reopen(inspect_video(path).poster)
    assert close_to(poster.getpixel((160, 120)), (0, 255, 0))


# Refused: not a video of ours (415)


def test_jpeg_renamed_mp4_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photo.mp4"
    path.write_bytes(encode(quadrants((320, 240)), "JPEG"))
    assert (rejected(path).message, rejected(path).status) == (UNSUPPORTED, 415)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("concat.mp4", "ffconcat version 1.0\nfile victim.mp4\n"),
        (
            "playlist.mp4",
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n{victim}\n#EXT-X-ENDLIST\n",
        ),
    ],
)
def test_playlists_naming_another_file_are_refused_without_reading_it(
    tmp_path: Path, name: str, text: str
) -> None:
    # The file they name is a FIFO with no writer: opening it to read blocks forever, so a
    # probe that tried would hit its timeout instead of returning an answer.
    victim = tmp_path / "victim.mp4"
    os.mkfifo(victim)
    upload = tmp_path / name
    upload.write_text(text.format(victim=victim))
    refusal = rejected(upload, timeout=10)
    assert (refusal.message, refusal.status) == (UNSUPPORTED, 415)
    # inspect_video refuses these by their first bytes; FFmpeg's allow-lists are the second
    # line, so run the child on it directly, from the playlist's own directory.
    answer = run_probe_child(upload, cwd=tmp_path)
    assert answer == {"refused": "unopenable"}


def test_the_fifo_detector_works_on_an_unhardened_open(tmp_path: Path) -> None:
    # Control for the test above: FFmpeg's default open of the ffconcat text does open the
    # FIFO (we see a reader arrive), which is what the allow-lists prevent.
    victim = tmp_path / "victim.mp4"
    os.mkfifo(victim)
    upload = tmp_path / "concat.mp4"
    upload.write_text("ffconcat version 1.0\nfile victim.mp4\n")
    code = f"import av; av.open({str(upload)!r})"
    child = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                # Succeeds only once a reader has the FIFO open.
                fd = os.open(victim, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                assert time.monotonic() < deadline, "the unhardened open never read the FIFO"
                time.sleep(0.02)
        os.close(fd)
    finally:
        child.kill()
        child.wait()


def run_probe_child(path: Path, cwd: Path) -> dict[str, object]:
    """Run the probe child the way inspect_video does and return its JSON answer."""
    limits = {"min_seconds": 1, "max_seconds": 180, "memory_bytes": 2**31, "cpu_seconds": 20}
    done = subprocess.run(
        [sys.executable, "-I", str(PROBE_SCRIPT), str(path), json.dumps(limits)],
        capture_output=True,
        timeout=10,
        cwd=cwd,
        check=True,
    )
    return json.loads(done.stdout.partition(b"\n")[0])


# Refused: a video of ours that fails (422) or is too big (413)


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "voice.mp4", video_codec=None)
    refusal = rejected(path)
    assert "영상이 들어 있지 않은" in refusal.message
    assert refusal.status == 422


def test_too_long_clip_is_refused_with_both_durations(tmp_path: Path) -> None:
    # 200 s at 1 fps of tiny frames costs almost nothing to make.
    path = write_clip(tmp_path / "long.mp4", size=(64, 48), fps=1, seconds=200, audio_codec=None)
    refusal = rejected(path)
    assert (refusal.message, refusal.status) == ("영상은 3분 이내여야 합니다 (3분 20초).", 422)


def test_too_short_clip_is_refused(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "short.mp4", seconds=0.5, audio_codec=None)
    refusal = rejected(path)
    assert (refusal.message, refusal.status) == ("영상은 1초 이상이어야 합니다.", 422)


def test_truncated_mp4_is_refused(clips: Path, tmp_path: Path) -> None:
    data = (clips / "h264.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    assert (rejected(path).message, rejected(path).status) == (DAMAGED, 422)


def test_truncated_webm_is_refused(clips: Path, tmp_path: Path) -> None:
    data = (clips / "vp9.webm").read_bytes()
    path = tmp_path / "cut.webm"
    path.write_bytes(data[: len(data) // 2])
    assert (rejected(path).message, rejected(path).status) == (DAMAGED, 422)


def test_webm_cut_inside_its_header_is_refused(clips: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.webm"
    path.write_bytes((clips / "vp9.webm").read_bytes()[:30])
    assert (rejected(path).message, rejected(path).status) == (DAMAGED, 422)


def test_mpeg4_part2_is_refused_by_name(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "old.mp4", video_codec="mpeg4", audio_codec=None)
    refusal = rejected(path)
    assert "MPEG-4 Part 2" in refusal.message
    assert "지원하지 않습니다" in refusal.message
    assert refusal.status == 422


def test_two_video_streams_are_refused(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "two.mp4", video_streams=2, audio_codec=None)
    refusal = rejected(path)
    assert "영상 트랙이 여러 개" in refusal.message
    assert refusal.status == 422


def test_more_than_4k_is_refused(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "wide.mp4", size=(4104, 64), fps=2, seconds=1, audio_codec=None)
    refusal = rejected(path)
    assert "해상도가 너무 큽니다 (4104×64)" in refusal.message
    assert refusal.status == 422


def test_file_over_max_bytes_is_refused_with_413(clips: Path) -> None:
    refusal = rejected(clips / "h264.mp4", max_bytes=1000)
    assert refusal.status == 413
    assert "너무 큽니다" in refusal.message


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert rejected(path).status == 400


def test_probe_over_its_time_limit_is_refused(clips: Path) -> None:
    refusal = rejected(clips / "h264.mp4", timeout=0.001)
    assert (refusal.message, refusal.status) == (TIMEOUT, 422)


def test_video_dataclass_is_frozen(clips: Path) -> None:
    video = inspect_video(clips / "vp9.webm")
    assert isinstance(video, Video)
    with pytest.raises(AttributeError):
        video.width = 1  # type: ignore[misc]


# Playback copy


def test_playback_of_vertical_hevc_is_upright_h264_aac_without_metadata(
    clips: Path, tmp_path: Path
) -> None:
    target = tmp_path / "play.mp4"
    make_playback(clips / "iphone.mov", target)
    with av.open(str(target)) as container:
        assert container.format.name.startswith("mov,mp4")
        for key in container.metadata:
            assert "location" not in key.lower()
        assert "creation_time" not in container.metadata
        assert "encoder" not in container.metadata
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec.canonical_name, audio.codec.canonical_name) == ("h264", "aac")
        assert video.codec_context.pix_fmt == "yuv420p"
        for stream in container.streams:
            assert "creation_time" not in stream.metadata
        assert container.duration / av.time_base == pytest.approx(2.0, abs=0.15)
        frame = next(container.decode(video))
        assert frame.rotation == 0  # turned in the pixels, no display matrix
        assert frame.height > frame.width
        assert frame.height <= 1280 and frame.width <= 720
        picture = frame.to_image()
    assert close_to(picture.getpixel((120, 20)), RED)
    assert close_to(picture.getpixel((120, 300)), BLUE)
    assert LOCATION.encode() not in target.read_bytes()


def test_a_transcoded_playback_is_scaled_to_720p(tmp_path: Path) -> None:
    # Not H.264, so transcoded (an H.264 source is remuxed at its size: test_video_remux.py).
    source = write_clip(
        tmp_path / "big.mp4", video_codec="mpeg4", size=(1920, 1080), fps=5, seconds=1
    )
    target = tmp_path / "play.mp4"
    make_playback(source, target)
    with av.open(str(target)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (1280, 720)


def test_failed_playback_leaves_no_file(tmp_path: Path) -> None:
    source = tmp_path / "photo.mp4"
    source.write_bytes(encode(quadrants((320, 240)), "JPEG"))
    target = tmp_path / "play.mp4"
    with pytest.raises(av.FFmpegError):
        make_playback(source, target)
    assert not target.exists()


def test_playback_over_its_time_limit_stops_and_leaves_no_file(clips: Path, tmp_path: Path) -> None:
    target = tmp_path / "play.mp4"
    with pytest.raises(PlaybackError):
        make_playback(clips / "h264.mp4", target, timeout=0)
    assert not target.exists()


def test_playback_never_plays_longer_than_its_limit(tmp_path: Path) -> None:
    # Were a 3 s clip whose edit list replays it 1,000 times to get past the checks, its copy
    # would be 50 minutes long: the limit stops it at 4 s, and reading stops there too.
    source = loop_with_edit_list(
        write_clip(tmp_path / "loop.mp4", size=(160, 120), seconds=3), entries=1000
    )
    target = tmp_path / "play.mp4"
    make_playback(source, target, max_seconds=4, timeout=60)
    assert 3.5 < copy_seconds(target) <= 4


def test_playback_starts_at_zero_whatever_the_source_s_first_timestamp(tmp_path: Path) -> None:
    # Video timestamps that start 1,000 s in: copied as they are, the copy would play 1,000 s
    # of nothing first (the muxer writes an empty edit for the delay).
    source = tmp_path / "late.mp4"
    with av.open(str(source), "w") as out:
        stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(20):
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 120), BLUE))
            frame.pts, frame.time_base = 10_000 + i, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(source)) as container:
        assert container.streams.video[0].start_time * container.streams.video[0].time_base >= 1000
    target = tmp_path / "play.mp4"
    make_playback(source, target, max_seconds=3)
    assert copy_seconds(target) == pytest.approx(2, abs=0.15)


def copy_seconds(path: Path) -> float:
    """How long a file plays: the container's duration, and no stream's is longer."""
    with av.open(str(path)) as container:
        seconds = container.duration / av.time_base
        for stream in container.streams:
            assert float(stream.duration * stream.time_base) <= seconds + 0.001
    return seconds


# Durations: measured from the packets, whatever the headers and edit lists say


def header_seconds(path: Path) -> float:
    """The duration the container's headers state (mvhd, as FFmpeg reads it)."""
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def test_a_clip_whose_headers_understate_it_is_measured_from_its_packets(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.mp4", size=(64, 48), fps=5, seconds=20)
    lie_about_duration(path, 2)
    assert header_seconds(path) == pytest.approx(2)
    assert inspect_video(path).duration == pytest.approx(20, abs=0.1)


def test_a_200_s_clip_whose_headers_say_10_s_is_refused_as_too_long(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "long.mp4", size=(64, 48), fps=1, seconds=200, audio_codec=None)
    lie_about_duration(path, 10)
    assert header_seconds(path) == pytest.approx(10)
    refusal = rejected(path)
    assert (refusal.message, refusal.status) == ("영상은 3분 이내여야 합니다 (3분 20초).", 422)


@pytest.mark.parametrize("inside", [b"edts", b"mdia"])
def test_an_edit_list_replaying_a_3_s_clip_1000_times_is_refused(
    tmp_path: Path, inside: bytes
) -> None:
    # FFmpeg applies an elst wherever its box walk meets one, not only in an edts.
    path = write_clip(tmp_path / "loop.mp4", seconds=3)
    loop_with_edit_list(path, entries=1000, inside=inside)
    assert header_seconds(path) == pytest.approx(3, abs=0.05)  # the headers pass as 3 s
    refusal = rejected(path)
    assert (refusal.message, refusal.status) == (EDIT_LIST, 422)


def test_one_edit_more_than_the_cap_is_refused(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "loop.mp4", size=(64, 48), seconds=1.5, audio_codec=None)
    loop_with_edit_list(path, entries=MAX_EDITS_PER_TRACK + 1)
    assert (rejected(path).message, rejected(path).status) == (EDIT_LIST, 422)


def test_edits_within_the_cap_are_measured_as_played_and_copied_as_long(tmp_path: Path) -> None:
    # FFmpeg honours edit lists as players do (a trimmed clip stays trimmed); what they make of
    # the track is what the probe measures and the copy plays.
    path = write_clip(tmp_path / "loop.mp4", size=(160, 120), seconds=1.5)
    loop_with_edit_list(path, entries=MAX_EDITS_PER_TRACK)
    video = inspect_video(path)
    # Each edit replays the whole track: the sound's 1.52 s (its encoder's padding) included.
    assert video.duration == pytest.approx(1.5 * MAX_EDITS_PER_TRACK, abs=0.5)
    target = tmp_path / "play.mp4"
    make_playback(path, target, max_seconds=video.duration + 1)
    assert video.duration - 0.15 <= copy_seconds(target) <= video.duration + 1


def test_a_compressed_movie_header_is_refused(tmp_path: Path) -> None:
    # A zlib-compressed moov would hide its edit lists from the box walk.
    path = add_to_movie(write_clip(tmp_path / "clip.mp4", audio_codec=None), b"cmov")
    assert (rejected(path).message, rejected(path).status) == (UNSUPPORTED, 415)


def test_the_probe_stops_demuxing_at_its_packet_cap(
    clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In this process, to lower the cap: 18 packets for 180 s, fewer than the 2 s clip holds.
    monkeypatch.setattr(video_probe, "PACKETS_PER_SECOND", 0.1)
    facts, poster = video_probe.probe(str(clips / "h264.mp4"), 1, 180)
    assert (facts["refused"], poster) == ("packets", None)


def test_the_probe_refuses_packets_adding_up_to_more_than_the_file(tmp_path: Path) -> None:
    # The parent's edit-list check aside, a file whose packets replay its samples is caught
    # by the bytes it makes the demuxer read: noise makes each frame big, so here after a
    # few loops of 3 s, long before the 50 minutes the edit list spells out.
    def noise(_: int) -> Image.Image:
        return Image.effect_noise((320, 240), 100).convert("RGB")  # new noise every frame

    path = write_clip(tmp_path / "loop.mp4", seconds=3, audio_codec=None, picture=noise)
    assert path.stat().st_size > 1024 * 1024
    loop_with_edit_list(path, entries=1000)
    facts, poster = video_probe.probe(str(path), 1, 180)
    assert (facts["refused"], poster) == ("packets", None)
    assert facts["duration"] < 10
