"""FFmpeg's share of the video check (probe, decode proof, poster frame), run in a child process."""

# This file imports nothing from `contest`: video.py runs it as a script (`python -I
# video_probe.py`), so the child loads PyAV and the standard library only, not the package's
# Flask import (about 0.14 s more per upload). video.py imports its constants.
#
# Protocol: argv = [path, JSON limits]. stdout = one JSON line, then, for an accepted video,
# the poster as raw RGB24 rows (width * height * 3 bytes). A refusal is {"refused": reason, ...}
# with the numbers the parent puts into its message; exit status 0 either way. Anything else
# (a crash, a signal, a memory limit hit) is a non-zero exit the parent reports as damaged.

from __future__ import annotations

import json
import os
import resource
import sys
from fractions import Fraction
from typing import Any

import av
from av.video.frame import VideoFrame

FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
OPEN_OPTIONS = {
    # Only the two demuxers we accept ever look at the bytes: concat, HLS, image2... never run,
    # so a text file saying "ffconcat" or "#EXTM3U" cannot make FFmpeg read another file
    # (SECURITY-CHECKLIST 0.1, V1), and only plain local files may be opened.
    "format_whitelist": FORMAT_WHITELIST,
    "protocol_whitelist": "file",
    # Never follow a MOV data reference to another file: FFmpeg's default, pinned here.
    "enable_drefs": "0",
}
# avformat_find_stream_info decodes frames to fill in the stream facts unless told to skip
# them: 6 ms instead of 100 ms on 1080p (PERFORMANCE-NOTES). It applies to the probing
# decoders only; the stream decoders opened afterwards keep skip_frame=DEFAULT (checked).
PROBE_OPTIONS = {**OPEN_OPTIONS, "skip_frame": "all"}

MOV_FORMAT = "mov,mp4,m4a,3gp,3g2,mj2"
MATROSKA_FORMAT = "matroska,webm"
FAMILIES = {MOV_FORMAT: "mov", MATROSKA_FORMAT: "matroska"}
# What each container family may carry: what phones and browsers record, nothing else.
VIDEO_CODECS = {"mov": frozenset({"h264", "hevc"}), "matroska": frozenset({"vp8", "vp9", "av1"})}
AUDIO_CODECS = {"mov": frozenset({"aac"}), "matroska": frozenset({"opus", "vorbis"})}

# "At most 4K" as the long and the short side, whatever the orientation: UHD (3840x2160),
# DCI 4K (4096x2160) and 4096x2304 pass; 5.7K/8K and 4096x4096 squares do not.
MAX_LONG_SIDE = 4096
MAX_SHORT_SIDE = 2304
# iPhone slow motion records 240 fps; more than that is no phone video.
MAX_FRAME_RATE = 240
POSTER_LONG_SIDE = 1600

# Frames decoded from the start to prove the stream decodes at all.
PROOF_FRAMES = 3
# The poster is the frame at min(1 s, duration / 10) from the start: 1 s for clips of 10 s
# or more (past a phone's fade-in and exposure settling), 10% in for shorter ones.
POSTER_SECONDS = 1.0
POSTER_FRACTION = 0.1
# Decoding forward from the keyframe before that time stops after this many frames and
# takes the last one: a poster needs no exact frame, and a 4K HEVC frame costs ~50 ms here.
MAX_POSTER_FRAMES = 30

# The duration is measured by demuxing (reading packets, decoding none) the video and audio
# streams to the end: headers (mvhd, mdhd, tkhd, Matroska's Duration) are what a file says
# about itself, the packets are what a player and the transcoder get. Two caps keep that
# read bounded on hostile input, inside the parent's timeout:
# - packets: a phone writes at most MAX_FRAME_RATE video packets a second and a few dozen
#   audio ones (AAC at 48 kHz 47, Opus 50); past this many per allowed second, it is no
#   phone's file.
PACKETS_PER_SECOND = MAX_FRAME_RATE + 260
# - bytes: demuxing reads each stored sample once, so packets adding up to more than the file
#   holds are samples played more than once (an index or edit list that loops). The slack
#   covers Matroska's header stripping, which adds a few bytes back to each packet.
BYTES_SLACK = 1024 * 1024


def main(argv: list[str]) -> int:
    """Run the check on argv[1] with the limits in argv[2]; write the answer to stdout."""
    path, limits = argv[1], json.loads(argv[2])
    _limit_resources(limits["memory_bytes"], limits["cpu_seconds"])
    facts, poster = probe(path, limits["min_seconds"], limits["max_seconds"])
    out = sys.stdout.buffer
    out.write(json.dumps(facts).encode() + b"\n")
    if poster is not None:
        out.write(poster)
    out.flush()
    return 0


def _limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    """Cap this process's address space, CPU time and file writes before touching the file."""
    # Set here rather than in a preexec_fn: the parent is a threaded web worker, where
    # preexec_fn is unsafe. A decoder that allocates past the cap gets ENOMEM and fails.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    # The child only reads the upload and writes to its stdout pipe.
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def probe(path: str, min_seconds: float, max_seconds: float) -> tuple[dict[str, Any], bytes | None]:
    """Open, check and decode the video; return its facts and the poster's RGB rows."""
    file_size = os.stat(path).st_size
    try:
        container = av.open(path, options=PROBE_OPTIONS)
    except av.FFmpegError:
        # The parent checked the magic bytes, so a refusal here is a damaged file of a known
        # kind; the parent turns it into 415 when the bytes were not ours to begin with.
        return {"refused": "unopenable"}, None
    with container:
        try:
            return _probe(container, file_size, min_seconds, max_seconds)
        except av.FFmpegError as why:
            return {"refused": "damaged", "detail": str(why)[:200]}, None


def _probe(
    container: av.container.InputContainer, file_size: int, min_seconds: float, max_seconds: float
) -> tuple[dict[str, Any], bytes | None]:
    """The checks in order of cost: streams, codecs, size, time from the packets, then decode."""
    family = FAMILIES.get(container.format.name)
    if family is None:
        return {"refused": "unopenable"}, None
    # Cover art and thumbnails stored as an attached picture are not the video: ignored, like
    # data streams (iPhones add timed-metadata tracks) and subtitles, which are never decoded.
    videos = [
        s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    audios = list(container.streams.audio)
    if not videos:
        return {"refused": "no_video"}, None
    if len(videos) > 1:
        return {"refused": "video_streams", "count": len(videos)}, None
    if len(audios) > 1:
        return {"refused": "audio_streams", "count": len(audios)}, None
    video = videos[0]
    video_codec = video.codec.canonical_name
    if video_codec not in VIDEO_CODECS[family]:
        return {"refused": "video_codec", "codec": video_codec}, None
    audio_codec = audios[0].codec.canonical_name if audios else None
    if audio_codec is not None and audio_codec not in AUDIO_CODECS[family]:
        return {"refused": "audio_codec", "codec": audio_codec}, None

    width, height = video.codec_context.width, video.codec_context.height
    if width <= 0 or height <= 0:
        return {"refused": "damaged", "detail": "no frame size"}, None
    if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
        return {"refused": "resolution", "width": width, "height": height}, None
    frame_rate = _frame_rate(video)
    if frame_rate is not None and frame_rate > MAX_FRAME_RATE:
        return {"refused": "frame_rate", "frame_rate": frame_rate}, None

    # A header stating too long is believed: refused without reading further (a camera's
    # headers are honest, and the message then shows the whole length). A header stating
    # short enough is not: only the packets can accept a file.
    if container.duration and container.duration / av.time_base > max_seconds:
        return {"refused": "too_long", "duration": container.duration / av.time_base}, None
    streams = [video, *audios]
    duration, why = _measured_duration(container, streams, file_size, max_seconds)
    if why is not None:
        return {"refused": why, "duration": duration}, None
    if duration is None:
        return {"refused": "damaged", "detail": "no timestamps"}, None
    if duration > max_seconds:
        return {"refused": "too_long", "duration": duration}, None
    if duration < min_seconds:
        return {"refused": "too_short", "duration": duration}, None

    # Slice threads only: frame threading was 8-25% slower for a handful of frames on 2 cores.
    video.thread_type = "SLICE"
    first = _first_frames(container, video)
    if not first:
        return {"refused": "damaged", "detail": "no frame decodes"}, None
    frame = _poster_frame(container, video, first, duration)
    poster_width, poster_height, rgb = _rgb_rows(frame)
    facts = {
        "family": family,
        "video_codec": video_codec,
        "audio_codec": audio_codec,
        "pixel_format": video.codec_context.pix_fmt,
        "width": width,
        "height": height,
        "rotation": _clockwise(first[0].rotation),
        "duration": duration,
        "frame_rate": frame_rate,
        # The only metadata that leaves this process: never locations or other tags.
        "creation_time": container.metadata.get("creation_time"),
        "poster": {"width": poster_width, "height": poster_height, "time": frame.time},
    }
    return facts, rgb


def _frame_rate(video: av.video.stream.VideoStream) -> float | None:
    """The average frame rate the header states, None when it states none."""
    rate = video.average_rate or video.base_rate
    if not rate or rate <= 0:
        return None
    return round(float(rate), 3)


def _measured_duration(
    container: av.container.InputContainer,
    streams: list[av.stream.Stream],
    file_size: int,
    max_seconds: float,
) -> tuple[float | None, str | None]:
    """Seconds from the first packet's start to the last one's end, over the video and audio.

    Demuxes without decoding, up to the packet and byte caps; returns (seconds, None), or the
    seconds seen so far and a refusal reason when a cap stops the read. Then seeks back to 0.
    """
    max_packets = PACKETS_PER_SECOND * max(1, max_seconds)
    max_bytes = file_size + BYTES_SLACK
    # Per stream, in its own time base: integers in the loop, fractions once at the end.
    spans: dict[int, list[int]] = {}
    packets = read = 0
    why = None
    for packet in container.demux(streams):
        packets += 1
        read += packet.size
        if packets > max_packets or read > max_bytes:
            why = "packets"
            break
        at = packet.pts if packet.pts is not None else packet.dts
        if at is None:
            continue  # the demuxer's end-of-stream packets carry no time
        ends = at + max(0, packet.duration or 0)
        span = spans.get(packet.stream_index)
        if span is None:
            spans[packet.stream_index] = [at, ends]
        else:
            span[0], span[1] = min(span[0], at), max(span[1], ends)
    duration = None
    if spans:
        bases = {s.index: s.time_base or Fraction(1, av.time_base) for s in streams}
        start = min(first * bases[index] for index, (first, _) in spans.items())
        end = max(last * bases[index] for index, (_, last) in spans.items())
        duration = float(end - start)
    if why is not None and duration is not None and duration > max_seconds:
        why = "too_long"  # the read stopped early, but already past the limit
    container.seek(0)
    return duration, why


def _first_frames(
    container: av.container.InputContainer, video: av.video.stream.VideoStream
) -> list[VideoFrame]:
    """Decode the first few frames from the start: the proof that the stream decodes."""
    frames: list[VideoFrame] = []
    for packet in container.demux(video):
        frames.extend(packet.decode())
        if len(frames) >= PROOF_FRAMES:
            break
    return frames


def _poster_frame(
    container: av.container.InputContainer,
    video: av.video.stream.VideoStream,
    first: list[VideoFrame],
    duration: float,
) -> VideoFrame:
    """The frame at the poster time: seek to the keyframe before it and decode forward."""
    time_base = video.time_base or Fraction(1, av.time_base)
    start = float((video.start_time or 0) * time_base)
    target = start + min(POSTER_SECONDS, duration * POSTER_FRACTION)
    # The proof frames may already reach it (a very short clip): no seek at all.
    for frame in first:
        if frame.time is not None and frame.time >= target:
            return frame
    best = first[-1]
    try:
        container.seek(int(target / time_base), stream=video, backward=True)
        for count, frame in enumerate(container.decode(video), start=1):
            best = frame
            if frame.time is None or frame.time >= target or count >= MAX_POSTER_FRAMES:
                break
    except av.FFmpegError:
        # A file that decodes from the start but not after a seek still gets a poster:
        # the last frame that did decode.
        pass
    return best


def _rgb_rows(frame: VideoFrame) -> tuple[int, int, bytes]:
    """Scale the frame to the poster size (stored orientation) and return its tight RGB rows."""
    scale = min(1.0, POSTER_LONG_SIDE / max(frame.width, frame.height))
    width = max(1, round(frame.width * scale))
    height = max(1, round(frame.height * scale))
    # swscale's area filter is the box average a downscale wants; it converts YUV to RGB in
    # the same pass, so the full-size RGB image never exists.
    rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    plane = rgb.planes[0]
    row = width * 3
    data = bytes(plane)
    if plane.line_size == row:
        return width, height, data[: row * height]
    stride = plane.line_size
    return width, height, b"".join(data[y * stride : y * stride + row] for y in range(height))


def _clockwise(counterclockwise: float) -> int:
    """The display matrix's rotation as the clockwise quarter turn that shows it upright."""
    # PyAV reports the matrix counterclockwise in [-180, 180]; an iPhone holding the phone
    # upright records -90, which is turned 90 degrees clockwise for display.
    return int(-round(counterclockwise / 90) * 90) % 360


if __name__ == "__main__":
    sys.exit(main(sys.argv))
