"""Boxes of an ISO base media file (HEIC, MP4, MOV): the top level, checked to fill the file
exactly, and the few boxes inside a movie that the video check reads (edit lists)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from flask_babel import lazy_gettext as _l

from contest.media import Rejected

DAMAGED_MESSAGE = _l("파일이 손상되었거나 전송 중에 잘렸습니다. 다시 보내 주세요.")

# Real files have a handful of top-level boxes (a fragmented MP4 a few thousand); a file made
# of millions of 8-byte boxes would only cost time and memory.
MAX_TOP_LEVEL_BOXES = 100_000
# Inside one box: a movie has a few tracks, a track a handful of boxes.
MAX_CHILD_BOXES = 10_000
_MAX_META_SCAN = 64 * 1024


@dataclass(frozen=True)
class Box:
    """One top-level box: its four-character type, where it starts and its full size in bytes."""

    type: str
    offset: int
    size: int


def top_level_boxes(f: BinaryIO, file_size: int) -> list[Box]:
    """Walk the top-level boxes from offset 0; refuse a file they do not fill exactly."""
    # libheif decodes a cut HEIC without any error and leaves the missing tiles blank, so
    # this walk is what refuses a truncated upload.
    boxes: list[Box] = []
    offset = 0
    while offset < file_size:
        if len(boxes) >= MAX_TOP_LEVEL_BOXES:
            raise Rejected(DAMAGED_MESSAGE, 422)
        f.seek(offset)
        header = f.read(16)
        if len(header) < 8:
            raise Rejected(DAMAGED_MESSAGE, 422)
        size, raw_type = struct.unpack_from(">I4s", header)
        box_type = raw_type.decode("latin-1")
        if size == 1:
            if len(header) < 16:
                raise Rejected(DAMAGED_MESSAGE, 422)
            (size,) = struct.unpack_from(">Q", header, 8)
            if size < 16:
                raise Rejected(DAMAGED_MESSAGE, 422)
        elif size == 0:
            # "Extends to the end of the file": only the last box may say so.
            size = file_size - offset
        elif size < 8:
            raise Rejected(DAMAGED_MESSAGE, 422)
        if offset + size > file_size:
            raise Rejected(DAMAGED_MESSAGE, 422)
        boxes.append(Box(type=box_type, offset=offset, size=size))
        offset += size
    if offset != file_size or not boxes:
        raise Rejected(DAMAGED_MESSAGE, 422)
    return boxes


def child_boxes(f: BinaryIO, parent: Box) -> list[Box]:
    """The boxes inside a container box (moov, trak, edts...), read as FFmpeg's mov demuxer does.

    Lenient where FFmpeg is, since only what FFmpeg will read matters here: a child overflowing
    its parent is cut to it, and fewer than 8 bytes left (QuickTime's 32-bit zero terminator)
    or a size below 8 ends the list.
    """
    f.seek(parent.offset)
    (size,) = struct.unpack(">I", f.read(4))
    offset = parent.offset + (16 if size == 1 else 8)
    end = parent.offset + parent.size
    if parent.type == "meta":
        # FFmpeg steps through a meta 4 bytes at a time until it meets its hdlr, then reads
        # boxes from there (an ISO meta has 4 bytes of version and flags first, Apple's none).
        f.seek(offset)
        head = f.read(min(end - offset, _MAX_META_SCAN))
        at = next((i for i in range(4, len(head) - 3, 4) if head[i : i + 4] == b"hdlr"), None)
        if at is None:
            return []
        offset += at - 4
    boxes: list[Box] = []
    while end - offset >= 8:
        if len(boxes) >= MAX_CHILD_BOXES:
            raise Rejected(DAMAGED_MESSAGE, 422)
        f.seek(offset)
        header = f.read(16)
        size, raw_type = struct.unpack_from(">I4s", header)
        if size == 1 and len(header) == 16:
            (size,) = struct.unpack_from(">Q", header, 8)
        elif size == 0:
            size = end - offset
        if size < 8:
            break
        size = min(size, end - offset)
        boxes.append(Box(type=raw_type.decode("latin-1"), offset=offset, size=size))
        offset += size
    return boxes


def edit_list_entries(f: BinaryIO, elst: Box) -> int:
    """The entry count an `elst` box states: how many edits FFmpeg will read from it."""
    f.seek(elst.offset)
    header = f.read(16)
    (size,) = struct.unpack_from(">I", header)
    at = 16 if size == 1 else 8  # then version and flags (4 bytes), then the count
    f.seek(elst.offset + at + 4)
    count = f.read(4)
    if elst.size < at + 8 or len(count) < 4:
        raise Rejected(DAMAGED_MESSAGE, 422)
    return struct.unpack(">I", count)[0]
