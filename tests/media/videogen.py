"""Video clips made on the spot with PyAV for the tests and the bench: nothing is committed."""

from __future__ import annotations

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
