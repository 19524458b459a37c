"""The playback copy of a video browsers already play: its streams copied, everything else dropped.

An Android phone's MP4 is usually H.264 with AAC: re-encoding it would cost the judges and the
visitor minutes on a busy 2-core server and lose quality for nothing. Such a source is remuxed
instead: the first video stream's and the first audio stream's packets are copied into a new
MP4 with the index first (faststart). Nothing else of the source travels: no container or
stream tags (the place it was shot, the phone, the creation time), no ©xyz location atom, no
extra video, data, timecode or subtitle track. The display matrix (a phone held upright) is
part of the stream's coded parameters and is kept, so the copy plays upright as the source does.

Every other source (HEVC from iPhones, 10-bit, VP9, over 1080p, Opus audio...) is transcoded
as before (`video._transcode`).
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av

from contest.media.video_probe import OPEN_OPTIONS

# What every current browser decodes: 8-bit 4:2:0 H.264 (no High 10, 4:2:2 or 4:4:4 profile).
REMUX_PIXEL_FORMATS = frozenset({"yuv420p", "yuvj420p"})
# At most 1080p, either way up: larger sources are scaled down by the transcode.
REMUX_MAX_LONG_SIDE = 1920
REMUX_MAX_SHORT_SIDE = 1080
_MOV_DEMUXER = "mov,mp4,m4a,3gp,3g2,mj2"


class RemuxTooSlow(RuntimeError):
    """The remux went past its time budget (it never should: it only copies bytes)."""


def can_remux(source: Path) -> bool:
    """Whether `source` is an MP4/MOV with 8-bit 4:2:0 H.264 of at most 1080p, AAC or silence."""
    try:
        with av.open(str(source), options={**OPEN_OPTIONS, "skip_frame": "all"}) as src:
            if src.format.name != _MOV_DEMUXER or not src.streams.video:
                return False
            video = src.streams.video[0]
            audio = src.streams.audio[0] if src.streams.audio else None
            if video.codec_context.name != "h264" or (audio and audio.codec_context.name != "aac"):
                return False
            # The pixel format (the bit depth) is known once a frame is decoded; the header
            # probe above skipped the frames. One frame costs a few milliseconds.
            frame = next(src.decode(video), None)
            return (
                frame is not None
                and frame.format.name in REMUX_PIXEL_FORMATS
                and 0 < max(frame.width, frame.height) <= REMUX_MAX_LONG_SIDE
                and 0 < min(frame.width, frame.height) <= REMUX_MAX_SHORT_SIDE
            )
    except (av.FFmpegError, OSError, ValueError):
        return False  # the transcode will report what is wrong with it


def remux(
    source: Path, target: Path, *, deadline: float | None = None, max_seconds: float | None = None
) -> None:
    """Copy the first video and audio streams of `source` into a bare MP4 at `target`.

    The copy starts at 0 and leaves out packets ending after `max_seconds` (the checked
    duration plus a second: whatever the headers or edit lists claim, it never plays longer).
    """
    with av.open(str(source), options=OPEN_OPTIONS) as src:
        vin = src.streams.video[0]
        ain = src.streams.audio[0] if src.streams.audio else None
        # The copy starts where the source's earliest stream starts, so both stay in step.
        start = Fraction(src.start_time or 0, av.time_base)
        # container_options reach only the muxer: faststart puts the index first so a browser
        # plays before the end arrives; bitexact leaves out the "Lavf" encoder tag. A new
        # stream from a template copies the codec parameters (and with them the display
        # matrix) but none of the source stream's metadata.
        with av.open(
            str(target),
            "w",
            format="mp4",
            container_options={"movflags": "+faststart", "fflags": "+bitexact"},
        ) as out:
            outputs = {vin: out.add_stream_from_template(vin)}
            if ain is not None:
                outputs[ain] = out.add_stream_from_template(ain)
            for packet in src.demux(list(outputs)):
                if deadline is not None and time.monotonic() > deadline:
                    raise RemuxTooSlow("the playback copy took longer than its time limit")
                if packet.dts is None or packet.pts is None or packet.time_base is None:
                    continue  # the demuxer's empty flush packets
                offset = int(start / packet.time_base)
                # Whole packets only, and only those that end by the limit: a copy that played
                # a frame past it would be longer than the duration the checks accepted.
                ends = packet.pts - offset + (packet.duration or 0)
                if max_seconds is not None and ends * packet.time_base > Fraction(max_seconds):
                    continue
                packet.pts -= offset
                packet.dts -= offset
                packet.stream = outputs[packet.stream]
                out.mux(packet)
