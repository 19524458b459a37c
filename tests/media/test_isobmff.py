"""top_level_boxes: walking an ISO base media file and refusing one whose boxes do not fit."""

from __future__ import annotations

import io
import struct

import pytest

from contest.media import Rejected
from contest.media.isobmff import Box, top_level_boxes

from .imagegen import encode, quadrants

DAMAGED = "파일이 손상되었거나 전송 중에 잘렸습니다. 다시 보내 주세요."


def box(kind: bytes, payload: bytes) -> bytes:
    """A box with a 32-bit size."""
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def large_box(kind: bytes, payload: bytes) -> bytes:
    """A box with size 1 and a 64-bit largesize."""
    return struct.pack(">I", 1) + kind + struct.pack(">Q", 16 + len(payload)) + payload


def walk(data: bytes) -> list[Box]:
    """Walk boxes held in memory."""
    return top_level_boxes(io.BytesIO(data), len(data))


def refused(data: bytes) -> Rejected:
    """Walk a file that must be refused, and return the refusal."""
    with pytest.raises(Rejected) as caught:
        walk(data)
    assert (caught.value.status, caught.value.message) == (422, DAMAGED)
    return caught.value


FTYP = box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic")


def test_walks_32_bit_boxes() -> None:
    data = FTYP + box(b"meta", bytes(40)) + box(b"mdat", bytes(100))
    assert walk(data) == [
        Box("ftyp", 0, 24),
        Box("meta", 24, 48),
        Box("mdat", 72, 108),
    ]


def test_walks_a_64_bit_largesize_box() -> None:
    data = FTYP + large_box(b"mdat", bytes(50)) + box(b"free", b"")
    assert walk(data) == [Box("ftyp", 0, 24), Box("mdat", 24, 66), Box("free", 90, 8)]


def test_size_zero_runs_to_the_end_of_the_file() -> None:
    data = FTYP + struct.pack(">I", 0) + b"mdat" + bytes(70)
    assert walk(data)[-1] == Box("mdat", 24, 78)


def test_a_real_heic_fills_its_file() -> None:
    data = encode(quadrants((640, 480)), "HEIF", quality=50)
    boxes = walk(data)
    assert [b.type for b in boxes][:1] == ["ftyp"]
    assert {"meta", "mdat"} <= {b.type for b in boxes}
    assert boxes[-1].offset + boxes[-1].size == len(data)


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.9])
def test_a_cut_heic_is_refused(keep: float) -> None:
    data = encode(quadrants((640, 480)), "HEIF", quality=50)
    refused(data[: int(len(data) * keep)])


def test_box_larger_than_the_file_is_refused() -> None:
    refused(FTYP + struct.pack(">I", 1000) + b"mdat" + bytes(100))


def test_cut_header_is_refused() -> None:
    refused(FTYP + b"\x00\x00\x00")


def test_cut_largesize_header_is_refused() -> None:
    refused(FTYP + struct.pack(">I", 1) + b"mdat" + b"\x00\x00")


@pytest.mark.parametrize("size", [2, 7])
def test_size_under_8_is_refused(size: int) -> None:
    refused(FTYP + struct.pack(">I", size) + b"mdat" + bytes(20))


def test_largesize_under_16_is_refused() -> None:
    refused(FTYP + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 8) + bytes(20))


def test_largesize_past_the_end_is_refused() -> None:
    refused(FTYP + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 2**63) + bytes(20))


def test_trailing_bytes_after_the_last_box_are_refused() -> None:
    refused(FTYP + box(b"mdat", bytes(10)) + b"\x00\x00")


def test_an_empty_file_is_refused() -> None:
    refused(b"")


def test_a_file_of_countless_tiny_boxes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("contest.media.isobmff.MAX_TOP_LEVEL_BOXES", 100)
    refused(FTYP + box(b"free", b"") * 200)
