"""Resumable uploads with S3 storage on several app servers, without sticky sessions.

Two apps on one database and one bucket stand for two servers behind a load balancer; each
PATCH of an upload goes to the other one, as a round-robin balancer would send them. The
bytes live in an S3 multipart upload (moto enforces its 5 MiB smallest part) and a small tail
object, so neither server's disk holds any of them.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from contest import create_app
from contest.core import jobs
from contest.core.extensions import db
from contest.storage import get_storage

from .conftest import _config, entry_form
from .test_storage_s3 import PREFIX, assets, bucket, objects, s3, s3_env, s3_server  # noqa: F401
from .test_tus import TUS, _age_uploads, create, patch

MB = 1024 * 1024


@pytest.fixture
def servers(make_app, tmp_path, s3_server, bucket) -> Iterator[list[Flask]]:  # noqa: F811
    """Two app servers: one database, one bucket, one SECRET_KEY, a disk each."""
    s3_settings = {
        "STORAGE_URL": f"s3://{bucket}/{PREFIX}",
        "S3_ENDPOINT_URL": s3_server.url,
        "S3_REGION": "us-east-1",
    }
    first = make_app(**s3_settings)
    second = create_app(
        _config(tmp_path, UPLOAD_FOLDER=str(tmp_path / "second-server"), **s3_settings)
    )
    assert first.config["SQLALCHEMY_DATABASE_URI"] == second.config["SQLALCHEMY_DATABASE_URI"]
    assert first.config["UPLOAD_FOLDER"] != second.config["UPLOAD_FOLDER"]
    yield [first, second]
    with second.app_context():
        db.engine.dispose()


def _clients(servers: list[Flask]) -> list[FlaskClient]:
    """One browser: the session cookie the first server set goes to the second one too."""
    first, second = (app.test_client() for app in servers)
    first.get("/submit")
    cookie = first.get_cookie("session")
    assert cookie is not None
    second.set_cookie("session", cookie.value)
    return [first, second]


def _big_photo() -> bytes:
    """A real JPEG of more than 11 MiB (noise does not compress)."""
    size = (3200, 3000)
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=98)
    data = out.getvalue()
    assert len(data) >= 11 * MB
    return data


def _local_files(app: Flask) -> list[str]:
    root = app.config["UPLOAD_FOLDER"]
    return [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names]


def test_pieces_alternate_between_two_servers_then_the_entry_is_whole(servers, s3, bucket):  # noqa: F811
    clients = _clients(servers)
    data = _big_photo()
    url = create(clients[0], len(data)).headers["Location"]
    offset, turn = 0, 0
    while offset < len(data):
        chunk = data[offset : offset + MB]
        answer = patch(clients[turn % 2], url, offset, chunk)
        assert answer.status_code == 204, answer.data
        offset += len(chunk)
        assert answer.headers["Upload-Offset"] == str(offset)
        turn += 1
        # Either server tells where it stands, and a stale offset is refused by both.
        assert clients[turn % 2].head(url, headers=TUS).headers["Upload-Offset"] == str(offset)
        if offset < len(data):
            assert patch(clients[turn % 2], url, offset - 1, b"x").status_code == 409
    fields = entry_form(upload=url.rsplit("/", 1)[1])
    del fields["media"]
    answer = clients[turn % 2].post("/submit", data=fields)
    assert answer.status_code == 303, answer.data
    original = assets(servers[0])["original"]
    with servers[0].app_context(), get_storage().open(original.key) as stored:
        assert hashlib.sha256(stored.read()).digest() == hashlib.sha256(data).digest()
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert [key for key in objects(s3, bucket) if "/tmp/" in key] == []
    for app in servers:
        assert _local_files(app) == []


def test_expiry_aborts_an_unfinished_multipart_upload(servers, s3, bucket):  # noqa: F811
    clients = _clients(servers)
    data = os.urandom(7 * MB)
    url = create(clients[0], len(data)).headers["Location"]
    assert patch(clients[0], url, 0, data[: 6 * MB]).status_code == 204
    assert patch(clients[1], url, 6 * MB, data[6 * MB : 6 * MB + 1000]).status_code == 204
    assert len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    assert [key for key in objects(s3, bucket) if "/tmp/" in key]  # the tail
    _age_uploads(servers[1], 10 * 24 * 3600)
    with servers[1].app_context():
        assert jobs.remove_expired_uploads() == 1
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert objects(s3, bucket) == {}
    assert clients[0].head(url, headers=TUS).status_code == 404


def test_doctor_lists_and_repairs_an_expired_multipart_upload(servers, s3, bucket):  # noqa: F811
    clients = _clients(servers)
    url = create(clients[0], 6 * MB).headers["Location"]
    assert patch(clients[1], url, 0, os.urandom(2 * MB)).status_code == 204
    _age_uploads(servers[0], 10 * 24 * 3600)
    runner = servers[0].test_cli_runner()
    listed = runner.invoke(args=["doctor"])
    assert "expired-upload" in listed.output and "multipart" in listed.output
    assert len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    repaired = runner.invoke(args=["doctor", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert objects(s3, bucket) == {}
