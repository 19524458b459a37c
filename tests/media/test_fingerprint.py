"""fingerprint: the SHA-256 of an upload, and the refusal of image/markup/ZIP polyglots."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from contest.media import Rejected
from contest.media.fingerprint import CHUNK_SIZE, Fingerprint, fingerprint

from .imagegen import camera_like, encode

Write = Callable[..., Path]

POLYGLOT = "파일에 사진·영상이 아닌 내용(HTML·스크립트·압축 파일)이 섞여 있어 받을 수 없습니다."


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    """An ordinary photo."""
    return encode(camera_like((1200, 900)), "JPEG", quality=90)


def zip_archive(comment: bytes = b"") -> bytes:
    """A small ZIP, as appended to an image in a GIFAR-style polyglot."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.txt", "hello")
        archive.comment = comment
    return buffer.getvalue()


def refusal(path: Path) -> Rejected:
    """Run fingerprint on a file it must refuse, and return the refusal."""
    with pytest.raises(Rejected) as caught:
        fingerprint(path)
    return caught.value


def test_hash_and_size_match_hashlib(write: Write, jpeg: bytes) -> None:
    result = fingerprint(write(jpeg))
    assert result == Fingerprint(sha256=hashlib.sha256(jpeg).hexdigest(), size=len(jpeg))


def test_multi_chunk_file_hashes_like_hashlib(write: Write) -> None:
    data = random.Random(1).randbytes(3 * CHUNK_SIZE + 12345)
    # Random bytes may hold a tag by chance (rarely): keep this test about hashing.
    data = data.replace(b"<", b"(")
    result = fingerprint(write(data))
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)


def test_photo_followed_by_random_bytes_passes(write: Write, jpeg: bytes) -> None:
    data = jpeg + random.Random(2).randbytes(2 * CHUNK_SIZE)
    assert fingerprint(write(data)).size == len(data)


def test_empty_file_is_refused_with_400(write: Write) -> None:
    why = refusal(write(b""))
    assert (why.status, why.message) == (400, "파일이 비어 있습니다.")


def test_appended_html_is_refused(write: Write, jpeg: bytes) -> None:
    why = refusal(write(jpeg + b"<html><script>alert(1)</script></html>"))
    assert (why.status, why.message) == (422, POLYGLOT)


@pytest.mark.parametrize(
    "markup",
    [
        b"<script>alert(1)</script>",
        b"<SCRIPT src=//x.example/a.js>",
        b"<html>",
        b"<HtMl lang=ko>",
        b"<?php phpinfo();",
        b"<?PHP\nsystem($_GET['c']);",
        b"<svg onload=alert(1)>",
        b"<svg/onload=alert(1)>",
        b"<iframe src=x>",
        b"<body onload=alert(1)>",
        b"<!DOCTYPE html>",
        b"<!doctype\thtml>",
        b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">',
        b"<!doctypehtml>",
    ],
)
def test_each_kind_of_markup_is_refused(write: Write, jpeg: bytes, markup: bytes) -> None:
    middle = len(jpeg) // 2
    why = refusal(write(jpeg[:middle] + markup + jpeg[middle:]))
    assert (why.status, why.message) == (422, POLYGLOT)


@pytest.mark.parametrize("text", [b"<svgx", b"<bodyguard", b"<htmlfoo", b"<scripts"])
def test_a_tag_name_must_end_like_a_tag(write: Write, jpeg: bytes, text: bytes) -> None:
    # Only what an HTML parser reads as that tag counts: "<svg" alone turns up by chance in
    # about 1% of large JPEGs.
    assert fingerprint(write(jpeg + text)).size == len(jpeg) + len(text)


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/x.dtd">',
        b"<!doctype svg-free-note>",
        b"<!DOCTYPE htmlfoo>",
    ],
)
def test_a_doctype_that_is_not_html_passes(write: Write, jpeg: bytes, doctype: bytes) -> None:
    # Photoshop on a Mac stores Apple's print settings, an XML plist, inside real photos.
    data = jpeg[:2] + b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + jpeg[2:]
    assert fingerprint(write(data)).size == len(data)


@pytest.mark.parametrize("split", range(1, len(b"<!doctype html>")))
def test_markup_split_across_the_chunk_boundary_is_refused(write: Write, split: int) -> None:
    markup = b"<!doctype html>"
    filler = b"\xff\xd8\xff" + bytes(CHUNK_SIZE - split - 3)
    data = filler + markup + bytes(1000)
    assert data[:CHUNK_SIZE].endswith(markup[:split])  # the tag really straddles chunks
    why = refusal(write(data))
    assert why.status == 422


def test_script_split_exactly_at_the_boundary_is_refused(write: Write) -> None:
    data = bytes(CHUNK_SIZE - 4) + b"<scr" + b"ipt>alert(1)</script>"
    assert refusal(write(data)).status == 422


def test_appended_zip_is_refused(write: Write, jpeg: bytes) -> None:
    why = refusal(write(jpeg + zip_archive()))
    assert (why.status, why.message) == (422, POLYGLOT)


def test_appended_zip_with_a_comment_is_refused(write: Write, jpeg: bytes) -> None:
    why = refusal(write(jpeg + zip_archive(comment=b"x" * 4000)))
    assert why.status == 422


def test_zip_after_more_than_one_chunk_is_refused(write: Write, jpeg: bytes) -> None:
    data = jpeg + bytes(CHUNK_SIZE) + zip_archive(comment=b"c" * 65535)
    assert refusal(write(data)).status == 422


def test_zip_signature_not_ending_the_file_passes(write: Write, jpeg: bytes) -> None:
    # A chance "PK\x05\x06" inside image data: its comment length does not reach the end.
    record = b"PK\x05\x06" + bytes(16) + (5).to_bytes(2, "little")
    data = jpeg[:-500] + record + jpeg[-500:]
    assert fingerprint(write(data)).size == len(data)


def test_a_zip_alone_is_refused(write: Write) -> None:
    assert refusal(write(zip_archive())).status == 422
