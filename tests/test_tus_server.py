"""The issue's test: tuspy sends a file in 1 MiB chunks to the real server (nginx in front of
gunicorn, as `make run` serves it) through a proxy that cuts the connection mid-chunk several
times; the form then names the upload, and the stored original is the source, byte for byte.

Real processes on the loopback, so marked slow (`-m 'not slow'` skips them).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from PIL import Image
from tusclient import client as tus_client

from . import databases
from .server_helpers import (
    HOST,
    CuttingProxy,
    Server,
    Visitor,
    become_subreaper,
    files_under,
    flask_in_process,
    query,
    sha256_of,
    site_env,
    stop_being_subreaper,
    visitor_fields,
)

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[Server, dict[str, str], Path]]:
    env = site_env(tmp_path)
    flask_in_process(env, ("init-db",))
    adopting = become_subreaper()
    server = Server(env, tmp_path / "gunicorn.log")
    try:
        server.start()
        yield server, env, tmp_path
    finally:
        server.stop()
        if adopting:
            stop_being_subreaper()
        databases.drop_site(tmp_path)


def _big_photo(path: Path) -> bytes:
    """A PNG of noise, about 6 MiB: six chunks and more, and still a photo the contest takes."""
    image = Image.frombytes("RGB", (1450, 1450), os.urandom(1450 * 1450 * 3))
    image.save(path, "PNG", compress_level=1)
    return path.read_bytes()


def test_tuspy_resumes_through_cut_connections_then_the_form_submits(server, tmp_path):
    server_, env, root = server
    source = tmp_path / "big.png"
    data = _big_photo(source)
    assert len(data) > 6 * MIB
    # Cuts in the middle of the second, fourth and sixth chunk (headers aside).
    proxy = CuttingProxy(server_.port, [int(1.5 * MIB), int(3.6 * MIB), int(5.5 * MIB)])
    try:
        with Visitor(server_.port) as visitor, open(source, "rb") as stream:
            token = visitor.csrf_token()
            cookie = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
            tus = tus_client.TusClient(
                f"http://{HOST}:{proxy.port}/uploads",
                headers={"Cookie": cookie, "X-CSRFToken": token},
            )
            uploader = tus.uploader(
                file_stream=stream,
                chunk_size=MIB,
                metadata={"filename": "big.png", "filetype": "image/png"},
                retries=10,
                retry_delay=0,
                store_url=False,
            )
            uploader.upload()
            assert proxy.done_cuts == 3
            upload_id = uploader.url.rsplit("/", 1)[1]

            body = urlencode(
                {"csrf_token": token, "upload": upload_id, "consent": "y", **visitor_fields(1)}
            )
            visitor.connection.request(
                "POST",
                "/submit",
                body=body,
                headers=visitor._headers(
                    {
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Accept": "application/json",
                    }
                ),
            )
            answer = visitor._finish()
            assert answer.status == 201, answer.text
    finally:
        proxy.close()
    database = env["CONTEST_SQLALCHEMY_DATABASE_URI"]
    ((key, digest),) = query(
        database,
        "SELECT asset.key, entry.sha256 FROM asset JOIN entry ON entry.id = asset.entry_id"
        " WHERE asset.role = 'original'",
    )
    assert digest == hashlib.sha256(data).hexdigest()
    assert sha256_of(root / "uploads" / key) == hashlib.sha256(data).hexdigest()
    assert [f for f in files_under(root / "uploads") if f.startswith("tmp/")] == []
    assert query(database, "SELECT count(*) FROM upload") == [(0,)]
