"""Video uploads: judged by content in a time- and memory-capped child; poster and playback copy."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from PIL import Image

from contest.core.formatting import duration_text, file_size
from contest.media import Rejected, video_remux
from contest.media.isobmff import Box, child_boxes, edit_list_entries, top_level_boxes
from contest.media.photo import Derivative, make_derivatives
from contest.media.video_probe import MAX_LONG_SIDE, MAX_SHORT_SIDE, OPEN_OPTIONS

# The visitor's messages are lazy: they become text in the visitor's language when shown.
# Only this parent process builds them; the probe child (video_probe.py) reports reasons.
UNSUPPORTED_MESSAGE = _l("지원하지 않는 영상 형식입니다. MP4, MOV, WebM 영상만 올릴 수 있습니다.")
DAMAGED_MESSAGE = _l("영상 파일이 손상되었거나 전송 중에 잘렸습니다. 다시 보내 주세요.")
TIMEOUT_MESSAGE = _l(
    "영상을 확인하는 데 시간이 너무 오래 걸립니다. 다른 파일로 다시 시도해 주세요."
)
EMPTY_MESSAGE = _l("파일이 비어 있습니다.")
NO_VIDEO_MESSAGE = _l("영상이 들어 있지 않은 파일입니다.")
EDIT_LIST_MESSAGE = _l(
    "같은 장면을 여러 번 이어 붙이는 편집 정보가 들어 있어 올릴 수 없는 영상입니다. "
    "휴대전화로 찍은 영상이나 편집 앱에서 내보낸 영상을 올려 주세요."
)

# The child's address-space cap. A 4K HEVC decode with slice threads stays far below it;
# the cap is what stops a file whose headers make a decoder allocate without end.
CHILD_MEMORY_BYTES = 2 * 1024**3
_PROBE_SCRIPT = Path(__file__).with_name("video_probe.py")

# What the first box of an ISO base media file (MP4, MOV) may be: QuickTime files from old
# cameras start with `wide`, `mdat` or `moov` instead of `ftyp`.
_ISO_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282
_MATROSKA_SEGMENT = 0x18538067
# An EBML header is a few dozen bytes; a longer one is not a file any recorder wrote.
_MAX_EBML_HEADER = 4096

_KINDS = {
    "mp4": (".mp4", "video/mp4"),
    "mov": (".mov", "video/quicktime"),
    "webm": (".webm", "video/webm"),
    "matroska": (".mkv", "video/x-matroska"),
}
_FAMILY = {"mp4": "mov", "mov": "mov", "webm": "matroska", "matroska": "matroska"}
# Edit lists (elst) say which stretches of a track's media play, in what order; FFmpeg honours
# them, as players do, so one that lists the same 3 s a thousand times makes 50 minutes of
# playback. A camera writes one or two edits per track (an empty edit for a start delay, then
# the media), and so does an editing app exporting a trimmed clip. Such lists are honoured, so
# a trim stays trimmed (ignoring them would show what the entrant cut away); a track with more
# edits than this is refused before FFmpeg reads the file. What the edits make of the track is
# then measured by the probe from the packets, like any other duration.
MAX_EDITS_PER_TRACK = 16
# The boxes FFmpeg's mov demuxer opens as containers (its mov_read_default and the like), where
# an elst or a cmov could sit; a fragmented file has a moof per fragment at the top level.
_MOV_CONTAINERS = frozenset(
    {"moov", "trak", "edts", "mdia", "minf", "stbl", "dinf", "udta", "meta", "tref", "mvex"}
    | {"moof", "traf", "sinf", "schi"}
)
# A phone's movie is a few dozen boxes, a fragmented recording a few per fragment; the walk
# runs in the web worker, so it stops (as damaged) well before it could cost a second.
_MAX_MOVIE_BOXES = 100_000
# creation_time before this is an unset clock (QuickTime's 1904 and Unix's 1970 epochs,
# cameras reset to 2000-01-01 count as unset too).
_EARLIEST_CAPTURE = datetime(2000, 1, 2, tzinfo=UTC)

# Playback copy: what a 2-core server can encode near real time and every browser plays.
PLAYBACK_BOX = (1280, 720)  # landscape; a vertical video gets 720x1280
PLAYBACK_VIDEO_OPTIONS = {"preset": "veryfast", "crf": "23", "profile": "high"}
PLAYBACK_AUDIO_BIT_RATE = 128_000
PLAYBACK_KEYFRAME_SECONDS = 2
AAC_FRAME_SAMPLES = 1024
_AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000})


@dataclass(frozen=True)
class Video:
    """What an accepted video is, what it says about itself, and its poster derivatives."""

    container: str  # "mp4", "mov", "webm" or "matroska"
    extension: str  # the original's extension: ".mp4", ".mov", ".webm", ".mkv"
    content_type: str  # video/mp4, video/quicktime, video/webm, video/x-matroska
    video_codec: str  # "h264", "hevc", "vp8", "vp9", "av1"
    audio_codec: str | None  # "aac", "opus", "vorbis", or None when silent
    width: int  # as displayed (rotation applied: a vertical iPhone clip is 1080x1920)
    height: int
    duration: float  # seconds
    frame_rate: float | None
    rotation: int  # 0, 90, 180 or 270: clockwise turn that shows the stored pixels upright
    captured_at: datetime | None  # container creation_time, aware UTC; None if missing/bogus
    browser_ready: bool  # H.264 8-bit 4:2:0 with AAC or no audio, in MP4/MOV: remux plays
    poster: Derivative  # JPEG, long side <= 1600, upright, no metadata
    thumbnail: Derivative  # JPEG, long side <= 480, made from the poster


class PlaybackError(RuntimeError):
    """make_playback could not finish (too slow, no video); the caller records it."""


def inspect_video(
    path: Path,
    *,
    max_seconds: float = 180,
    min_seconds: float = 1,
    max_bytes: int = 500 * 1024 * 1024,
    timeout: float = 30,
) -> Video:
    """Check an uploaded video by its content and make its poster derivatives, or raise Rejected."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise Rejected(EMPTY_MESSAGE, 400)
        if size > max_bytes:
            message = _l("영상 파일이 너무 큽니다 (최대 %(limit)s).", limit=file_size(max_bytes))
            raise Rejected(message, 413)
        container = _container_kind(f, size)
    facts, rgb = _run_probe(path, min_seconds, max_seconds, timeout)
    return _video(container, facts, rgb, min_seconds, max_seconds)


def _container_kind(f: BinaryIO, size: int) -> str:
    """Tell MP4, MOV, WebM and Matroska apart by their bytes and refuse a truncated container."""
    # FFmpeg never sees a file that does not start like one of ours: the allow-listed
    # demuxers in the child are the second line, not the only one.
    head = f.read(64)
    if head[4:8] in _ISO_FIRST_BOXES:
        try:
            boxes = top_level_boxes(f, size)
            if not any(box.type == "moov" for box in boxes):
                raise Rejected(DAMAGED_MESSAGE, 422)
            edits = _largest_edit_list(f, [box for box in boxes if box.type in _MOV_CONTAINERS])
        except Rejected as why:
            raise Rejected(DAMAGED_MESSAGE, 422) from why
        if edits is None:
            raise Rejected(UNSUPPORTED_MESSAGE, 415)
        if edits > MAX_EDITS_PER_TRACK:
            raise Rejected(EDIT_LIST_MESSAGE, 422)
        if boxes[0].type == "ftyp":
            f.seek(boxes[0].offset + 8)
            major_brand = f.read(4)
            return "mov" if major_brand == b"qt  " else "mp4"
        return "mov"  # no ftyp: a classic QuickTime file
    if head.startswith(_EBML_MAGIC):
        return _check_ebml(f, size)
    raise Rejected(UNSUPPORTED_MESSAGE, 415)


def _largest_edit_list(f: BinaryIO, boxes: list[Box]) -> int | None:
    """The most entries any `elst` among these boxes lists; None for a compressed movie header.

    FFmpeg applies an `elst` wherever its box walk meets one (to the track read last), so
    every box it opens as a container is searched, not only a track's `edts`.
    """
    largest = 0
    pending, visited = list(boxes), 0
    while pending:
        box = pending.pop()
        visited += 1
        if visited > _MAX_MOVIE_BOXES:
            raise Rejected(DAMAGED_MESSAGE, 422)
        if box.type == "cmov":
            # A zlib-compressed moov (QuickTime 3 era, no phone writes one) would hide its
            # edit lists from this walk, and FFmpeg would still read them.
            return None
        if box.type == "elst":
            largest = max(largest, edit_list_entries(f, box))
        elif box.type in _MOV_CONTAINERS:
            pending.extend(child_boxes(f, box))
    return largest


def _check_ebml(f: BinaryIO, size: int) -> str:
    """Read the EBML header's DocType; refuse a Matroska segment that the file cannot hold."""
    # FFmpeg plays a WebM cut in half up to the cut without an error, so, as the box walk
    # does for MP4, the segment's stated size is checked against the file's. A live
    # recording (MediaRecorder) writes an unknown size: nothing to check there.
    f.seek(0)
    data = f.read(_MAX_EBML_HEADER + 64)
    try:
        _, pos = _ebml_id(data, 0)
        header_size, pos = _ebml_size(data, pos)
        if header_size is None or pos + header_size > _MAX_EBML_HEADER:
            raise ValueError("EBML header size")
        header_end = pos + header_size
        doctype = None
        while pos < header_end:
            element, pos = _ebml_id(data, pos)
            length, pos = _ebml_size(data, pos)
            if length is None:
                raise ValueError("unknown size inside the EBML header")
            if element == _EBML_DOCTYPE:
                doctype = data[pos : pos + length].rstrip(b"\x00")
            pos += length
        segment, pos = _ebml_id(data, header_end)
        segment_size, pos = _ebml_size(data, pos)
    except (ValueError, IndexError) as why:
        raise Rejected(DAMAGED_MESSAGE, 422) from why
    if doctype not in (b"webm", b"matroska") or segment != _MATROSKA_SEGMENT:
        raise Rejected(UNSUPPORTED_MESSAGE, 415)
    if segment_size is not None and pos + segment_size > size:
        raise Rejected(DAMAGED_MESSAGE, 422)
    return "webm" if doctype == b"webm" else "matroska"


def _ebml_id(data: bytes, pos: int) -> tuple[int, int]:
    """An EBML element ID (1-4 bytes, marker kept) and the position after it."""
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if length > 4:
        raise ValueError("EBML ID")
    return int.from_bytes(data[pos : pos + length], "big"), pos + length


def _ebml_size(data: bytes, pos: int) -> tuple[int | None, int]:
    """An EBML size (1-8 bytes); None for the all-ones "unknown" size."""
    first = data[pos]
    if first == 0:
        raise ValueError("EBML size")
    length = 8 - first.bit_length() + 1
    raw = data[pos : pos + length]
    if len(raw) < length:
        raise IndexError("EBML size cut")
    value = int.from_bytes(raw, "big") & ((1 << (7 * length)) - 1)
    return (None if value == (1 << (7 * length)) - 1 else value), pos + length


def _run_probe(
    path: Path, min_seconds: float, max_seconds: float, timeout: float
) -> tuple[dict[str, Any], bytes]:
    """Run video_probe.py in a child under the time and memory caps; refusals become Rejected."""
    limits = {
        "min_seconds": min_seconds,
        "max_seconds": max_seconds,
        "memory_bytes": CHILD_MEMORY_BYTES,
        # A second line behind the wall-clock timeout, should the parent itself die.
        "cpu_seconds": math.ceil(timeout) + 5,
    }
    command = [sys.executable, "-I", str(_PROBE_SCRIPT), str(path.resolve()), json.dumps(limits)]
    try:
        # run() kills the child when the timeout expires. cwd "/" so that nothing relative
        # could resolve to the upload directory; -I ignores PYTHON* variables and user site.
        done = subprocess.run(
            command, capture_output=True, timeout=timeout, cwd="/", stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as why:
        raise Rejected(TIMEOUT_MESSAGE, 422) from why
    line, _, rgb = done.stdout.partition(b"\n")
    try:
        if done.returncode != 0:
            raise ValueError(f"exit {done.returncode}")
        facts = json.loads(line)
        if not isinstance(facts, dict):
            raise ValueError("not an object")
    except ValueError:
        # A decoder crash, the memory cap or a signal: the file is what broke it.
        detail = done.stderr.decode("utf-8", "replace")[-2000:]
        raise Rejected(DAMAGED_MESSAGE, 422) from RuntimeError(f"video probe failed: {detail}")
    return facts, rgb


def _video(
    container: str, facts: dict[str, Any], rgb: bytes, min_seconds: float, max_seconds: float
) -> Video:
    """Turn the child's answer into a Video, or its refusal into the visitor's message."""
    refused = facts.get("refused")
    if refused is not None:
        raise _refusal(refused, facts, min_seconds, max_seconds)
    if facts["family"] != _FAMILY[container]:
        raise Rejected(UNSUPPORTED_MESSAGE, 415)
    rotation = facts["rotation"]
    width, height = facts["width"], facts["height"]
    if rotation in (90, 270):
        width, height = height, width
    poster = facts["poster"]
    try:
        image = Image.frombytes("RGB", (poster["width"], poster["height"]), rgb)
    except ValueError as why:
        raise Rejected(DAMAGED_MESSAGE, 422) from why
    if rotation:
        # PIL's angles are counterclockwise; ours say how far clockwise to turn.
        image = image.transpose(_TURN[rotation])
    poster_jpeg, thumbnail = make_derivatives(image)
    extension, content_type = _KINDS[container]
    video_codec, audio_codec = facts["video_codec"], facts["audio_codec"]
    return Video(
        container=container,
        extension=extension,
        content_type=content_type,
        video_codec=video_codec,
        audio_codec=audio_codec,
        width=width,
        height=height,
        duration=round(facts["duration"], 3),
        frame_rate=facts["frame_rate"],
        rotation=rotation,
        captured_at=_captured_at(facts.get("creation_time")),
        # What Chrome, Safari and Firefox all play once remuxed to MP4 with faststart:
        # 8-bit 4:2:0 H.264 (no High 10), AAC or silence. HEVC plays in Safari only.
        browser_ready=(
            container in ("mp4", "mov")
            and video_codec == "h264"
            and facts.get("pixel_format") in ("yuv420p", "yuvj420p")
            and audio_codec in (None, "aac")
        ),
        poster=poster_jpeg,
        thumbnail=thumbnail,
    )


_TURN = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def _refusal(
    reason: str, facts: dict[str, Any], min_seconds: float, max_seconds: float
) -> Rejected:
    """The Rejected for one of the child's refusal reasons."""
    if reason == "unopenable":
        # The magic bytes were ours, yet neither allowed demuxer could read the file.
        return Rejected(DAMAGED_MESSAGE, 422)
    if reason == "no_video":
        return Rejected(NO_VIDEO_MESSAGE, 422)
    if reason == "video_streams":
        message = _l(
            "영상 트랙이 여러 개(%(count)s개) 들어 있는 파일은 올릴 수 없습니다.",
            count=facts["count"],
        )
        return Rejected(message, 422)
    if reason == "audio_streams":
        message = _l(
            "소리 트랙이 여러 개(%(count)s개) 들어 있는 파일은 올릴 수 없습니다.",
            count=facts["count"],
        )
        return Rejected(message, 422)
    if reason == "video_codec":
        message = _l(
            "이 파일의 영상 코덱(%(codec)s)은 지원하지 않습니다. "
            "휴대전화 기본 카메라로 찍은 MP4, MOV, WebM 영상을 올려 주세요.",
            codec=_codec_name(facts["codec"]),
        )
        return Rejected(message, 422)
    if reason == "audio_codec":
        message = _l(
            "이 파일의 소리 코덱(%(codec)s)은 지원하지 않습니다. "
            "휴대전화 기본 카메라로 찍은 MP4, MOV, WebM 영상을 올려 주세요.",
            codec=_codec_name(facts["codec"]),
        )
        return Rejected(message, 422)
    if reason == "resolution":
        message = _l(
            "영상 해상도가 너무 큽니다 (%(width)s×%(height)s). "
            "4K(긴 변 %(long_side)s, 짧은 변 %(short_side)s픽셀) 이하 영상만 올릴 수 있습니다.",
            width=facts["width"],
            height=facts["height"],
            long_side=MAX_LONG_SIDE,
            short_side=MAX_SHORT_SIDE,
        )
        return Rejected(message, 422)
    if reason == "frame_rate":
        message = _l(
            "초당 프레임 수가 너무 많은 영상입니다 (%(rate)sfps).",
            rate=f"{facts['frame_rate']:g}",
        )
        return Rejected(message, 422)
    if reason == "too_long":
        # Rounded up, so a clip a fraction over the limit never reads as exactly the limit.
        message = _l(
            "영상은 %(limit)s 이내여야 합니다 (%(actual)s).",
            limit=_duration(max_seconds),
            actual=_duration(math.ceil(facts["duration"])),
        )
        return Rejected(message, 422)
    if reason == "too_short":
        message = _l("영상은 %(limit)s 이상이어야 합니다.", limit=_duration(min_seconds))
        return Rejected(message, 422)
    return Rejected(DAMAGED_MESSAGE, 422)


_CODEC_NAMES = {
    "mpeg4": "MPEG-4 Part 2",
    "mpeg2video": "MPEG-2",
    "mjpeg": "Motion JPEG",
    "prores": "ProRes",
    "h264": "H.264",
    "hevc": "HEVC",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mp3": "MP3",
    "ac3": "AC-3",
    "pcm_s16le": "PCM",
}


def _codec_name(codec: str) -> str:
    """A codec's usual name for the message: MPEG-4 Part 2, ProRes... else FFmpeg's own."""
    name = _CODEC_NAMES.get(codec, codec)
    return "".join(ch for ch in name if ch.isprintable())[:40]


def _duration(seconds: float) -> LazyString:
    """3분 20초 / 3 min 20 s, written when the message is shown, in the visitor's language."""
    return LazyString(duration_text, seconds)


def _captured_at(value: object) -> datetime | None:
    """The container's creation_time as aware UTC; None when missing or an unset clock."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip()[:40])
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # MP4 and Matroska store UTC
    moment = moment.astimezone(UTC)
    if moment < _EARLIEST_CAPTURE or moment > datetime.now(UTC) + timedelta(days=1):
        return None
    return moment


def make_playback(
    source: Path,
    target: Path,
    *,
    timeout: float | None = None,
    max_seconds: float | None = None,
) -> None:
    """Write a browser-playable MP4 (H.264 + AAC or silence, upright, no metadata) at `target`.

    A source that browsers already play (8-bit H.264 of at most 1080p in MP4/MOV, AAC or no
    sound) is remuxed: its two streams copied, everything else dropped (`video_remux`), in well
    under a second. Any other is transcoded to H.264 of at most 720p.

    `timeout` is the time budget (PlaybackError past it); `max_seconds` the longest the copy
    may play: video frames and audio past it are left out, whatever the source's timestamps
    and edit lists make of it. The caller passes the checked duration plus a second.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        if video_remux.can_remux(source):
            try:
                video_remux.remux(source, target, deadline=deadline, max_seconds=max_seconds)
            except video_remux.RemuxTooSlow as why:
                raise PlaybackError(str(why)) from why
        else:
            _transcode(source, target, deadline, max_seconds)
    except BaseException:
        # Never leave half a file: the caller renames `target` into place only on success.
        target.unlink(missing_ok=True)
        raise


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise PlaybackError("the playback copy took longer than its time limit")


def _transcode(
    source: Path, target: Path, deadline: float | None, max_seconds: float | None
) -> None:
    """Decode, turn upright, scale and encode the first video and audio streams."""
    rotation = _first_rotation(source, deadline)
    with av.open(str(source), options=OPEN_OPTIONS) as src:
        vin = src.streams.video[0]
        ain = src.streams.audio[0] if src.streams.audio else None
        # Every frame is decoded here: frame threads pay off, unlike for the poster's few.
        vin.thread_type = "AUTO"
        width, height = vin.codec_context.width, vin.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        out_width, out_height = _playback_size(width, height)
        graph = _video_graph(vin, rotation, out_width, out_height)
        rate = vin.average_rate or vin.guessed_rate or Fraction(30)
        # container_options reach only the muxer: faststart puts the index first so a
        # browser starts playing before the end arrives; bitexact leaves out the "Lavf"
        # encoder tag and the creation time. No container or stream metadata is copied.
        with av.open(
            str(target),
            "w",
            format="mp4",
            container_options={"movflags": "+faststart", "fflags": "+bitexact"},
        ) as out:
            vout = out.add_stream("libx264", rate=rate, options=dict(PLAYBACK_VIDEO_OPTIONS))
            vout.width, vout.height = out_width, out_height
            vout.pix_fmt = "yuv420p"
            vout.codec_context.time_base = vin.time_base
            vout.codec_context.gop_size = max(1, round(float(rate) * PLAYBACK_KEYFRAME_SECONDS))
            aout = None
            if ain is not None:
                sample_rate = ain.rate if ain.rate in _AAC_RATES else 48000
                aout = out.add_stream("aac", rate=sample_rate)
                aout.layout = "mono" if ain.codec_context.channels == 1 else "stereo"
                aout.bit_rate = PLAYBACK_AUDIO_BIT_RATE
            video = _VideoOutput(graph, vout, out, _video_limit(vin, rate, max_seconds))
            audio_seconds, audio_limit = 0.0, None
            if aout is not None and max_seconds is not None:
                # The encoder pads its last AAC frame (1024 samples): leave room for it.
                audio_limit = max_seconds - AAC_FRAME_SAMPLES / aout.rate
            audio_done = ain is None
            streams = [vin] if ain is None else [vin, ain]
            for packet in src.demux(streams):
                _check_deadline(deadline)
                if packet.stream is ain:
                    assert aout is not None
                    for frame in [] if audio_done else packet.decode():
                        # The encoder's resampler numbers samples itself, from 0: the copy's
                        # sound is as long as the samples given, whatever the timestamps say.
                        audio_seconds += frame.samples / (frame.sample_rate or 48000)
                        if audio_limit is not None and audio_seconds > audio_limit:
                            audio_done = True
                            break
                        frame.pts = None
                        out.mux(aout.encode(frame))
                elif not video.done:
                    for frame in packet.decode():
                        video.push(frame)
                if video.done and audio_done:
                    break  # the copy is as long as it may be: read no further
            video.push(None)
            out.mux(vout.encode(None))
            if aout is not None:
                out.mux(aout.encode(None))


def _video_limit(
    vin: av.video.stream.VideoStream, rate: Fraction, max_seconds: float | None
) -> int | None:
    """The last start time (in the stream's time base) a frame of the copy may have."""
    if max_seconds is None or not vin.time_base:
        return None
    # The last frame lasts a frame interval (at most a second, whatever the rate claims).
    interval = min(Fraction(1), 1 / Fraction(rate))
    return math.floor((Fraction(max_seconds) - interval) / vin.time_base)


def _first_rotation(source: Path, deadline: float | None) -> int:
    """The clockwise display rotation, read from the first decoded frame."""
    # PyAV shows the display matrix on frames only; the output size depends on it, and the
    # output streams must exist before the first packet is written, hence this first look.
    with av.open(str(source), options=OPEN_OPTIONS) as src:
        if not src.streams.video:
            raise PlaybackError("the source has no video stream")
        for packet in src.demux(src.streams.video[0]):
            _check_deadline(deadline)
            for frame in packet.decode():
                return int(-round(frame.rotation / 90) * 90) % 360
    raise PlaybackError("no video frame decodes")


def _playback_size(width: int, height: int) -> tuple[int, int]:
    """Fit the displayed size in 1280x720 (720x1280 when vertical), even sides, never larger."""
    box_w, box_h = PLAYBACK_BOX if width >= height else PLAYBACK_BOX[::-1]
    scale = min(1.0, box_w / width, box_h / height)
    # H.264 in 4:2:0 needs even sides.
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _video_graph(
    vin: av.video.stream.VideoStream, rotation: int, out_width: int, out_height: int
) -> av.filter.Graph:
    """Scale and convert to yuv420p first, then turn: the rotation moves the fewest pixels."""
    scaled = (out_height, out_width) if rotation in (90, 270) else (out_width, out_height)
    steps: list[tuple[str, str]] = [
        ("scale", f"{scaled[0]}:{scaled[1]}:flags=bicubic"),
        ("format", "yuv420p"),
        ("setsar", "1"),
    ]
    if rotation == 90:
        steps.append(("transpose", "clock"))
    elif rotation == 270:
        steps.append(("transpose", "cclock"))
    elif rotation == 180:
        steps += [("hflip", ""), ("vflip", "")]
    graph = av.filter.Graph()
    nodes = [graph.add_buffer(template=vin)]
    nodes += [graph.add(name, args) for name, args in steps]
    nodes.append(graph.add("buffersink"))
    graph.link_nodes(*nodes).configure()
    return graph


class _VideoOutput:
    """Frames through the filter graph into the encoder, from 0, up to the copy's limit."""

    def __init__(
        self,
        graph: av.filter.Graph,
        vout: av.video.stream.VideoStream,
        out: av.container.OutputContainer,
        limit: int | None,
    ) -> None:
        self.graph, self.vout, self.out, self.limit = graph, vout, out, limit
        self.first: int | None = None  # the source's first timestamp
        self.last: int | None = None  # the copy's last timestamp
        self.done = False  # past the limit: no more frames are taken

    def push(self, frame: av.VideoFrame | None) -> None:
        """Filter one decoded frame (None: the end) and encode every frame the graph has ready."""
        self.graph.push(frame)
        while not self.done:
            try:
                filtered = self.graph.vpull()
            except (av.BlockingIOError, av.EOFError):
                return
            self._encode(filtered)

    def _encode(self, frame: av.VideoFrame) -> None:
        if frame.pts is None:
            pts = (self.last or 0) + 1
        else:
            # The copy starts at 0, as its sound does: a source whose timestamps start late
            # would otherwise become a copy that plays nothing until then.
            if self.first is None:
                self.first = frame.pts
            pts = frame.pts - self.first
        if self.last is not None and pts <= self.last:
            return  # x264 refuses timestamps that go backwards; the frame is a duplicate
        if self.limit is not None and pts > self.limit:
            self.done = True
            return
        frame.pts = self.last = pts
        frame.pict_type = av.video.frame.PictureType.NONE  # let x264 pick its keyframes
        self.out.mux(self.vout.encode(frame))
