"""Video clips made on the spot with PyAV for the tests and the bench: nothing is committed."""

from __future__ import annotations

import struct
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw

RED = (255, 0, 0)
BLUE = (0, 0, 255)

# Quiet encoders: x265 and SVT-AV1 print banners on stderr otherwise.
_CODEC_OPTIONS = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8"},
}


def upright_card(size: tuple[int, int]) -> Image.Image:
    """The picture as it should be seen: the top quarter red, the rest blue."""
    width, height = size
    im = Image.new("RGB", size, BLUE)
    ImageDraw.Draw(im).rectangle((0, 0, width - 1, height // 4 - 1), fill=RED)
    return im


def write_clip(
    path: Path,
    *,
    container: str = "mp4",
    video_codec: str | None = "libx264",
    audio_codec: str | None = "aac",
    size: tuple[int, int] = (320, 240),
    fps: int = 15,
    seconds: float = 2.0,
    display_rotation: int = 0,
    picture: Callable[[int], Image.Image | av.VideoFrame] | None = None,
    metadata: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
    video_streams: int = 1,
    gop_seconds: float | None = None,
) -> Path:
    """Encode a clip of `seconds` with a still (or `picture(i)`) and a silent audio track."""
    # display_rotation is the clockwise turn a player must apply (an upright iPhone clip: 90).
    # PyAV's set_display_rotation takes it counterclockwise, as VideoFrame.rotation reads it.
    with av.open(str(path), "w", format=container, options=options or {}) as out:
        out.metadata.update(metadata or {})
        videos = []
        for _ in range(video_streams if video_codec else 0):
            stream = out.add_stream(
                video_codec, rate=fps, options=dict(_CODEC_OPTIONS.get(video_codec, {}))
            )
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            if gop_seconds:
                stream.codec_context.gop_size = round(fps * gop_seconds)
            if display_rotation:
                stream.set_display_rotation(-display_rotation)
            videos.append(stream)
        audio = out.add_stream(audio_codec, rate=48000) if audio_codec else None
        sound = _Silence(out, audio) if audio is not None else None
        still = upright_card(size)
        for i in range(round(fps * seconds)):
            image = picture(i) if picture else still
            # A ready VideoFrame skips the RGB->YUV conversion (the bench's 1080p minutes).
            frame = image if isinstance(image, av.VideoFrame) else av.VideoFrame.from_image(image)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for stream in videos:
                out.mux(stream.encode(frame))
            if sound is not None:  # interleaved as a camera writes it
                sound.until((i + 1) / fps)
        for stream in videos:
            out.mux(stream.encode(None))
        if sound is not None:
            sound.until(seconds)
            sound.close()
    return path


class _Silence:
    """Mono silence at 48 kHz, encoded in step with the video."""

    RATE = 48000

    def __init__(self, out: av.container.OutputContainer, stream: av.audio.stream.AudioStream):
        self.out, self.stream, self.written = out, stream, 0

    def until(self, seconds: float) -> None:
        """Encode silence up to `seconds` from the start."""
        total = round(self.RATE * seconds)
        while self.written < total:
            samples = min(1024, total - self.written)
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            frame.sample_rate = self.RATE
            frame.pts = self.written
            frame.time_base = Fraction(1, self.RATE)
            self.out.mux(self.stream.encode(frame))
            self.written += samples

    def close(self) -> None:
        """Flush the encoder."""
        self.out.mux(self.stream.encode(None))


def vertical_iphone_like(path: Path, **kwargs: object) -> Path:
    """HEVC in MOV as an upright iPhone records it: landscape pixels plus a 90° display matrix."""
    width, height = kwargs.pop("size", (320, 240))  # type: ignore[misc]
    # The stored pixels are the upright 240x320 picture turned a quarter counterclockwise;
    # the display matrix turns them back clockwise.
    stored = upright_card((height, width)).transpose(Image.Transpose.ROTATE_90)
    return write_clip(
        path,
        container="mov",
        video_codec="libx265",
        size=(width, height),
        display_rotation=90,
        picture=lambda _: stored,
        **kwargs,  # type: ignore[arg-type]
    )


# Hostile MP4s: a clip PyAV wrote, then its boxes edited in code. The moov stays where the
# muxer put it (after mdat, no faststart), so growing it moves no sample and needs no stco fix.

_CONTAINER_BOXES = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"})


def _boxes(data: bytes) -> list[list]:
    """Parse boxes into [type, payload-or-children] lists, descending into container boxes."""
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = len(data) - pos
        body = data[pos + header : pos + size]
        boxes.append([kind, _boxes(body) if kind in _CONTAINER_BOXES else body])
        pos += size
    return boxes


def _serialise(boxes: list[list]) -> bytes:
    out = bytearray()
    for kind, body in boxes:
        payload = _serialise(body) if isinstance(body, list) else body
        if len(payload) + 8 < 2**32:
            out += struct.pack(">I4s", len(payload) + 8, kind) + payload
        else:
            out += struct.pack(">I4sQ", 1, kind, len(payload) + 16) + payload
    return bytes(out)


def _edit_moov(path: Path, edit: Callable[[list[list]], None]) -> Path:
    """Rewrite the file with `edit` applied to the moov's children, in place."""
    top = _boxes(path.read_bytes())
    if [kind for kind, _ in top].index(b"moov") < [kind for kind, _ in top].index(b"mdat"):
        raise ValueError("moov before mdat: editing it would move the samples")
    edit(next(body for kind, body in top if kind == b"moov"))
    path.write_bytes(_serialise(top))
    return path


def _child(boxes: list[list], kind: bytes) -> list:
    return next(box for box in boxes if box[0] == kind)


def _set_duration(box: list, seconds: float, timescale: int | None = None) -> int:
    """Set a mvhd/mdhd/tkhd's duration; return the box's own timescale (mvhd, mdhd)."""
    body = bytearray(box[1])
    version = body[0]
    wide = version == 1
    if box[0] == b"tkhd":
        # version, flags, created, modified, track ID, reserved, then the duration
        at = 4 + (16 if wide else 8) + 8
    else:
        at = 4 + (16 if wide else 8)
        (timescale,) = struct.unpack_from(">I", body, at)
        at += 4
    assert timescale is not None
    struct.pack_into(">Q" if wide else ">I", body, at, round(seconds * timescale))
    box[1] = bytes(body)
    return timescale


def lie_about_duration(path: Path, seconds: float) -> Path:
    """Make mvhd, every tkhd and every mdhd state `seconds`, whatever the samples say."""

    def edit(moov: list[list]) -> None:
        movie_scale = _set_duration(_child(moov, b"mvhd"), seconds)
        for kind, trak in moov:
            if kind == b"trak":
                _set_duration(_child(trak, b"tkhd"), seconds, movie_scale)
                _set_duration(_child(_child(trak, b"mdia")[1], b"mdhd"), seconds)

    return _edit_moov(path, edit)


def loop_with_edit_list(path: Path, entries: int = 1000, *, inside: bytes = b"edts") -> Path:
    """Give every track an edit list that plays its whole media `entries` times over.

    The headers keep saying how long the media is; FFmpeg honours edit lists, so a player (and
    a transcoder) sees `entries` times as many frames. `inside=b"mdia"` hides the `elst` in the
    track's media box instead of an `edts`, where FFmpeg applies it all the same.
    """

    def edit(moov: list[list]) -> None:
        (movie_scale,) = struct.unpack_from(">I", _child(moov, b"mvhd")[1], 12)
        for index, (kind, trak) in enumerate(moov):
            if kind != b"trak":
                continue
            mdhd = _child(_child(trak, b"mdia")[1], b"mdhd")[1]
            assert mdhd[0] == 0, "a version 0 mdhd, as PyAV writes short clips"
            media_scale, media_length = struct.unpack_from(">II", mdhd, 12)
            length = media_length * movie_scale // media_scale
            # version 0, no flags, the entry count; each entry: segment duration (movie
            # timescale), media time 0, rate 1.0
            table = struct.pack(">II", 0, entries) + struct.pack(">Iihh", length, 0, 1, 0) * entries
            trak[:] = [box for box in trak if box[0] != b"edts"]
            if inside == b"edts":
                trak.insert(1, [b"edts", [[b"elst", table]]])  # after tkhd, as muxers do
            else:
                _child(trak, inside)[1].insert(0, [b"elst", table])
            moov[index] = [kind, trak]

    return _edit_moov(path, edit)


def add_to_movie(path: Path, kind: bytes, payload: bytes = b"") -> Path:
    """Append a box of `kind` to the moov (a `cmov`, say), in place."""
    return _edit_moov(path, lambda moov: moov.append([kind, payload]))
