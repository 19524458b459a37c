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
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from contest import create_app
from contest.core import jobs
from contest.core.extensions import db
from contest.models import Upload, utcnow
from contest.services import doctor
from contest.storage import get_storage

from .conftest import _config, entry_form
from .server_helpers import ThrottlingProxy, free_port
from .test_storage_s3 import PREFIX, assets, bucket, objects, s3, s3_env  # noqa: F401
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


# One PATCH's S3 traffic runs outside every database lock -------------------------------------
SLOW_RATE = 1024 * 1024  # bytes a second from the slow server to S3: a 5 MiB part takes 5 s


@pytest.fixture
def slow_server(servers, tmp_path, s3_server, bucket) -> Iterator[Flask]:  # noqa: F811
    """A third app server on the same database and bucket, whose link to S3 is slow (its
    proxy is `app.s3_link`, whose `rate` and `flowing` a test may change)."""
    proxy = ThrottlingProxy(urlsplit(s3_server.url).port, SLOW_RATE)
    app = create_app(
        _config(
            tmp_path,
            UPLOAD_FOLDER=str(tmp_path / "slow-server"),
            STORAGE_URL=f"s3://{bucket}/{PREFIX}",
            S3_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}",
            S3_REGION="us-east-1",
        )
    )
    app.s3_link = proxy
    yield app
    with app.app_context():
        db.engine.dispose()
    proxy.close()


def _browser_on(app: Flask, cookie_from: FlaskClient) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("session", cookie_from.get_cookie("session").value)
    return client


def _patch_in_thread(client: FlaskClient, url: str, offset: int, body: bytes) -> dict:
    """PATCH from another thread (as another visitor's request would run); its answer lands
    in the returned dict once the thread ends."""
    answer: dict = {}

    def run() -> None:
        response = patch(client, url, offset, body)
        answer["status"] = response.status_code
        answer["offset"] = response.headers.get("Upload-Offset")

    answer["thread"] = threading.Thread(target=run)
    answer["thread"].start()
    return answer


def _wait_until_sending(link: ThrottlingProxy) -> None:
    """Until a request has reached the slow server's link to S3: its PATCH is in S3's hands."""
    deadline = time.monotonic() + 10
    while link.received == 0:
        assert time.monotonic() < deadline, "the PATCH never reached S3"
        time.sleep(0.02)


def _flight_object(s3, bucket, url: str) -> bytes:  # noqa: F811
    key = f"{PREFIX}/tmp/tus/{url.rsplit('/', 1)[1]}"
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_slow_piece_in_s3_holds_up_no_other_write(servers, slow_server):
    fast, _second = _clients(servers)
    slow = _browser_on(slow_server, fast)
    data_a, data_b = os.urandom(2 * MB), os.urandom(MB)
    url_a = create(fast, len(data_a)).headers["Location"]
    url_b = create(fast, len(data_b)).headers["Location"]

    slow_server.s3_link.flowing.clear()  # A's piece stalls on its way to S3 until we say
    try:
        slow_patch = _patch_in_thread(slow, url_a, 0, data_a[:MB])
        _wait_until_sending(slow_server.s3_link)
        # While A's piece is stuck: the same upload is busy (409, nothing stored), and
        # another upload's piece and a new upload (the site-wide write lock) go through.
        assert patch(fast, url_a, 0, data_a[:MB]).status_code == 409
        assert patch(fast, url_b, 0, data_b).status_code == 204
        assert create(fast, 10).status_code == 201
        assert slow_patch["thread"].is_alive()
    finally:
        slow_server.s3_link.flowing.set()
    slow_patch["thread"].join(30)
    assert slow_patch["status"] == 204 and slow_patch["offset"] == str(MB)
    # The rest from the fast server: the whole file is what was sent, in order.
    assert patch(fast, url_a, MB, data_a[MB:]).headers["Upload-Offset"] == str(2 * MB)
    assert fast.head(url_b, headers=TUS).headers["Upload-Offset"] == str(MB)


def test_two_pieces_at_one_offset_at_once_one_is_stored_the_other_409(
    servers,
    slow_server,
    s3,  # noqa: F811
    bucket,  # noqa: F811
):
    fast, _second = _clients(servers)
    slow = [_browser_on(slow_server, fast) for _ in range(2)]
    data = os.urandom(6 * MB + 1000)  # a 5 MiB part, then a tail that ends it
    url = create(fast, len(data)).headers["Location"]
    for offset in range(0, 4 * MB, MB):
        assert patch(fast, url, offset, data[offset : offset + MB]).status_code == 204

    # Both send the piece that makes the first part; both get past `receive` at once.
    piece = data[4 * MB : 5 * MB]
    racing = [_patch_in_thread(client, url, 4 * MB, piece) for client in slow]
    for one in racing:
        one["thread"].join(30)
    assert sorted(one["status"] for one in racing) == [204, 409]
    with servers[0].app_context():
        upload = db.session.get(Upload, url.rsplit("/", 1)[1])
        assert upload.received == 5 * MB
        assert [(part.number, part.size) for part in upload.parts] == [(upload.claims, 5 * MB)]

    assert patch(fast, url, 5 * MB, data[5 * MB :]).headers["Upload-Offset"] == str(len(data))
    assert _flight_object(s3, bucket, url) == data


def test_a_claim_left_by_a_dead_server_lapses_after_the_lease(servers, s3, bucket):  # noqa: F811
    fast, other = _clients(servers)
    data = os.urandom(MB + 10)
    url = create(fast, len(data)).headers["Location"]
    assert patch(fast, url, 0, data[:MB]).status_code == 204
    upload_id = url.rsplit("/", 1)[1]

    def claim_left(seconds_ago: float) -> None:
        with servers[0].app_context():
            upload = db.session.get(Upload, upload_id)
            upload.claims += 1  # a claim whose PATCH never came back
            upload.claimed_at = utcnow() - timedelta(seconds=seconds_ago)
            db.session.commit()

    lease = servers[0].config["UPLOAD_PIECE_LEASE"]
    claim_left(lease / 2)
    assert patch(other, url, MB, data[MB:]).status_code == 409
    claim_left(lease + 1)
    assert patch(other, url, MB, data[MB:]).headers["Upload-Offset"] == str(len(data))
    assert _flight_object(s3, bucket, url) == data


def test_a_piece_the_bucket_did_not_take_gives_the_upload_back_at_once(
    servers,
    tmp_path,
    s3,  # noqa: F811
    bucket,  # noqa: F811
):
    fast, _second = _clients(servers)
    cut_off = create_app(
        _config(
            tmp_path,
            UPLOAD_FOLDER=str(tmp_path / "cut-off-server"),
            STORAGE_URL=f"s3://{bucket}/{PREFIX}",
            S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
            S3_REGION="us-east-1",
        )
    )
    data = os.urandom(MB)
    url = create(fast, len(data)).headers["Location"]
    assert patch(_browser_on(cut_off, fast), url, 0, data).status_code == 503
    with cut_off.app_context():
        upload = db.session.get(Upload, url.rsplit("/", 1)[1])
        assert (upload.received, upload.claimed_at) == (0, None)
        db.engine.dispose()
    # No lease to wait out: the visitor's retry, on any server, is taken.
    assert patch(fast, url, 0, data).headers["Upload-Offset"] == str(MB)
    assert _flight_object(s3, bucket, url) == data


def test_doctor_finds_and_aborts_multipart_uploads_no_row_names(
    servers,
    monkeypatch,
    s3,  # noqa: F811
    bucket,  # noqa: F811
):
    clients = _clients(servers)
    data = os.urandom(6 * MB)
    url = create(clients[0], len(data)).headers["Location"]
    assert patch(clients[0], url, 0, data[: 5 * MB]).status_code == 204  # a part
    assert patch(clients[0], url, 5 * MB, data[5 * MB : 5 * MB + 10]).status_code == 204  # a tail
    # What a server that died between S3 and its commit leaves: a multipart upload with a
    # part, and a tail object, that no upload row names.
    ghost = f"{PREFIX}/tmp/tus/ghost"
    started = s3.create_multipart_upload(Bucket=bucket, Key=ghost)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=ghost, UploadId=started, PartNumber=1, Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/tmp/tus/gone.tail.3", Body=b"y" * 100)
    runner = servers[0].test_cli_runner()

    # A young object may be a piece still committing. (moto dates every multipart upload
    # 2010-11-10, so only the objects show the grace here.)
    young = runner.invoke(args=["doctor"])
    assert "orphan-flight" not in young.output, young.output

    monkeypatch.setattr(doctor, "ORPHAN_GRACE", timedelta(0))
    listed = runner.invoke(args=["doctor"])
    assert listed.exit_code == 1
    orphans = sorted(line for line in listed.output.splitlines() if line.startswith("orphan"))
    assert len(orphans) == 2, listed.output
    assert orphans[0].startswith("orphan-flight:") and "gone.tail.3" in orphans[0]
    assert orphans[1].startswith("orphan-multipart:") and "ghost" in orphans[1]

    repaired = runner.invoke(args=["doctor", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    left = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [item["Key"].rsplit("/", 1)[1] for item in left] == [url.rsplit("/", 1)[1]]
    assert not any(key.endswith(("ghost", "gone.tail.3")) for key in objects(s3, bucket))
    assert runner.invoke(args=["doctor"]).exit_code == 0
    # The live upload lost nothing: it finishes whole.
    assert patch(clients[1], url, 5 * MB + 10, data[5 * MB + 10 :]).status_code == 204
    assert _flight_object(s3, bucket, url) == data
