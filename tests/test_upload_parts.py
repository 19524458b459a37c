"""The request body's part counter: the field a limit hit is named, without slowing an upload."""

from __future__ import annotations

import io
import os

from contest.core.uploads import _PartCounter


def _read_all(body: bytes, boundary: bytes, chunk: int = 4096) -> _PartCounter:
    counter = _PartCounter(io.BytesIO(body), boundary)
    while counter.read(chunk):
        pass
    return counter


def test_the_last_part_s_name_is_found_whatever_the_case_of_its_header():
    boundary = b"xyz"
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n'
        + b'--xyz\r\nCONTENT-DISPOSITION: FORM-DATA; name="Description"\r\n\r\n'
        + os.urandom(50_000)  # a long field: its header is far behind when the limit hits
    )
    counter = _read_all(body, boundary)
    assert counter.last_name == "Description"  # the name as sent, not lower-cased
    assert counter.parts == 2


def test_a_header_split_across_two_reads_is_still_seen():
    boundary = b"b"
    head = b'--b\r\ncontent-disposition: form-data; name="media"; filename="a.jpg"\r\n\r\n'
    body = os.urandom(10_000) + head + os.urandom(10_000)
    split_inside_the_header = len(body) - 10_000 - 30
    counter = _PartCounter(io.BytesIO(body), boundary)
    counter.read(split_inside_the_header)
    counter.read(-1)
    assert counter.last_name == "media"
