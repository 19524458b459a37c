"""What the server's logs keep of a URL: never a receipt code, never an admin's search."""

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from server.logmask import MaskFilter, mask


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ('"GET /receipt/AB12CD34EF HTTP/1.1" 200', '"GET /receipt/*** HTTP/1.1" 200'),
        ('"POST /receipt/AB12CD34EF/withdraw HTTP/1.1"', '"POST /receipt/***/withdraw HTTP/1.1"'),
        ('"GET /receipt?code=AB12CD34EF HTTP/1.1"', '"GET /receipt?*** HTTP/1.1"'),
        ('"GET /receipts/AB12CD34EF,GH56JK78LM HTTP/1.1"', '"GET /receipts/*** HTTP/1.1"'),
        ('"GET /admin/entries?q=%ED%99%8D&page=2 HTTP/1.1"', '"GET /admin/entries?*** HTTP/1.1"'),
        ('"GET /admin/audit?user=kim HTTP/1.1"', '"GET /admin/audit?*** HTTP/1.1"'),
        (
            '"GET /language/en?next=%2Freceipt%2FAB12 HTTP/1.1"',
            '"GET /language/en?next=*** HTTP/1.1"',
        ),
        ('"GET /login?next=/admin/entries?q=kim HTTP/1.1"', '"GET /login?next=*** HTTP/1.1"'),
        ('"https://contest.kr/receipt/AB12CD34EF"', '"https://contest.kr/receipt/***"'),
        ('"http://contest.kr/admin/entries?q=kim"', '"http://contest.kr/admin/entries?***"'),
        # What carries no secret stays as it was.
        ('"GET /media/ab/AbCdEf.jpg HTTP/1.1" 200', '"GET /media/ab/AbCdEf.jpg HTTP/1.1" 200'),
        ('"GET /judge?page=2 HTTP/1.1"', '"GET /judge?page=2 HTTP/1.1"'),
        ('"GET / HTTP/1.1" 200 "-"', '"GET / HTTP/1.1" 200 "-"'),
    ],
)
def test_mask(line, masked):
    assert mask(line) == masked


def test_the_filter_masks_the_finished_message():
    message, args = "Error handling request %s", ("/receipt/X1",)
    record = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, message, args, None)
    assert MaskFilter().filter(record) is True
    assert record.getMessage() == "Error handling request /receipt/***"


def test_a_stop_of_the_whole_group_still_copies_nginx_s_last_lines():
    """SIGTERM reaches the copier with nginx's last line still waiting in the pipe: the line
    comes out (masked) all the same, and the copier ends with its input."""
    with subprocess.Popen(
        [sys.executable, "-m", "server.logmask"],
        cwd=Path(__file__).parents[1],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as copier:
        try:
            copier.stdin.write(b'"GET /receipt/AB12CD34EF HTTP/1.1" 200\n')
            copier.stdin.flush()
            assert copier.stderr.readline() == b'"GET /receipt/*** HTTP/1.1" 200\n'  # running
            copier.stdin.write(b'too large body, request: "POST /receipt/AB12CD34EF/withdraw"\n')
            copier.stdin.flush()
            copier.send_signal(signal.SIGTERM)
            copier.stdin.close()  # nginx has ended
            rest = copier.stderr.read()
            assert copier.wait(timeout=10) == 0
        finally:
            copier.kill()
    assert rest == b'too large body, request: "POST /receipt/***/withdraw"\n'
