"""Entry files in an S3-compatible object store: the same contract as the local folder, streamed.

A real S3 server (moto's server mode, see tests/s3_server.py) answers on loopback over HTTP;
boto3 reaches it with dummy credentials from the environment, as it would reach MinIO or AWS.
Every test gets a fresh bucket; the app under test keeps its files under the "site/" prefix.
"""

from __future__ import annotations

import io
import os
import re
import tracemalloc
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import av
import boto3
import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from contest import create_app
from contest.core.database import begin_write
from contest.core.extensions import db
from contest.core.file_transactions import remove_unless_committed
from contest.models import Asset, Entry
from contest.storage import LocalStorage, S3Storage, get_storage

from .conftest import entry_form, stored_files
from .media.videogen import write_clip
from .photos import photo_bytes
from .test_awards import give_scores, judges  # noqa: F401 - judges is a fixture
from .test_exports import original_bytes, winners  # noqa: F401 - winners is a fixture
from .test_public_copies import clips, download, member, works  # noqa: F401 - fixtures
from .test_purge_originals import PURGE, files, kept, stored_original  # noqa: F401 - fixtures
from .test_tus import TUS, create, patch

PREFIX = "site"
MB = 1024 * 1024


@pytest.fixture
def s3_env(monkeypatch) -> None:
    """Dummy credentials in boto3's standard chain, and nothing from the machine's ~/.aws."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def s3(s3_server, s3_env):
    """A boto3 client of the test server, to look into buckets behind the app's back."""
    return boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1")


@pytest.fixture
def bucket(s3) -> str:
    """A fresh, empty bucket for this test."""
    name = f"contest-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def app(make_app, s3_server, bucket) -> Iterator[Flask]:
    """The site with STORAGE_URL on the test bucket: every fixture built on `app` uses it."""
    app = make_app(
        STORAGE_URL=f"s3://{bucket}/{PREFIX}",
        S3_ENDPOINT_URL=s3_server.url,
        S3_REGION="us-east-1",
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def objects(s3, bucket: str) -> dict[str, int]:
    """Every object in the bucket, with its size."""
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: item["Size"] for item in listed}


def assets(app) -> dict[str, Asset]:
    with app.app_context():
        return {a.role: a for a in db.session.scalars(select(Asset))}


def local_files(app) -> list[str]:
    return stored_files(Path(app.config["UPLOAD_FOLDER"]))


# --- The contract, on both backends -----------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path) -> LocalStorage | S3Storage:
    """Each backend on its own, without an app."""
    if request.param == "local":
        made = LocalStorage(tmp_path / "uploads")
    else:
        server = request.getfixturevalue("s3_server")
        made = S3Storage(
            request.getfixturevalue("bucket"),
            PREFIX,
            tmp_path / "uploads" / "tmp",
            endpoint_url=server.url,
            region="us-east-1",
        )
    made.ensure_folders()
    return made


def test_storage_contract_put_open_size_keys_delete(storage):
    data = os.urandom(300_000)
    photo, stream = storage.new_key("derived", ".jpg"), storage.new_key("originals", ".mov")
    assert re.fullmatch(r"derived/[a-z0-9_-]{2}/[\w-]{24}\.jpg", photo)
    assert storage.put(data, photo) == len(data)
    assert storage.put(io.BytesIO(data[:1000]), stream) == 1000
    assert storage.exists(photo) and storage.size(photo) == len(data)
    with storage.open(photo) as reader:
        assert reader.read() == data
    with storage.open(photo, 100, 200) as reader:
        assert reader.read() == data[100:200]
    with storage.open(photo, len(data) - 5) as reader:
        assert reader.read() == data[-5:]
    assert sorted(storage.keys()) == sorted([photo, stream])
    assert dict(storage.sizes()) == {photo: len(data), stream: 1000}

    storage.delete(photo)
    storage.delete(photo)  # already gone: not an error
    assert not storage.exists(photo) and list(storage.keys()) == [stream]
    with pytest.raises(FileNotFoundError):
        storage.open(photo)
    with pytest.raises(FileNotFoundError):
        storage.size(photo)


def test_storage_contract_adopt_and_local_copy(storage):
    tmp_path, tmp = storage.temp_file()
    assert tmp_path.parent == storage.tmp and tmp_path.name.startswith(f"upload-{os.getpid()}-")
    with tmp:
        tmp.write(b"video bytes" * 1000)
    key = storage.new_key("originals", ".mp4")
    storage.adopt(tmp_path, key)
    assert not tmp_path.exists() and list(storage.temp_files()) == []
    assert storage.size(key) == 11_000

    with storage.local_copy(key) as path:
        assert path.read_bytes() == b"video bytes" * 1000 and path.suffix == ".mp4"
    # S3's copy was temporary; the local backend lent its own file.
    assert path.exists() == isinstance(storage, LocalStorage)
    assert list(storage.temp_files()) == []
    with pytest.raises(FileNotFoundError), storage.local_copy("originals/no/such.mp4"):
        pass
    assert list(storage.temp_files()) == []


@pytest.mark.parametrize("key", ["../contest.db", "tmp/upload-1-x.part", "/etc/passwd", "a//b"])
def test_storage_contract_refuses_keys_outside_the_store(storage, key):
    with pytest.raises(ValueError):
        storage.exists(key)


def test_the_setting_picks_the_backend_also_from_the_environment(
    s3_server, bucket, monkeypatch, tmp_path
):
    monkeypatch.setenv("CONTEST_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONTEST_STORAGE_URL", f"s3://{bucket}/fair/2026/")
    monkeypatch.setenv("CONTEST_S3_ENDPOINT_URL", s3_server.url)
    settings = {"TESTING": True, "SECRET_KEY": "x", "UPLOAD_FOLDER": str(tmp_path / "up")}
    with create_app(settings).app_context():
        storage = get_storage()
        assert isinstance(storage, S3Storage)
        assert (storage.bucket, storage.prefix) == (bucket, "fair/2026/")
        assert storage.tmp == tmp_path / "up" / "tmp" and storage.tmp.is_dir()
    monkeypatch.setenv("CONTEST_STORAGE_URL", "https://example.com/bucket")
    with pytest.raises(ValueError, match="STORAGE_URL"):
        create_app(settings)


# --- Never whole in memory ---------------------------------------------------------------------


def test_big_files_stream_through_put_adopt_open_and_local_copy(storage):
    """A 64 MiB file goes in and out with Python's peak allocation a fraction of its size."""
    size, block = 64 * MB, os.urandom(MB)
    tmp_path, tmp = storage.temp_file()
    with tmp:
        for _ in range(size // MB):
            tmp.write(block)
    source = tmp_path.with_name("source.bin")
    os.link(tmp_path, source)
    adopted, streamed = storage.new_key("originals", ".mov"), storage.new_key("originals", ".mov")
    storage.exists(adopted)  # boto3 loads its models on the first call: not part of a transfer
    peaks = {}

    def read_all() -> int:
        with storage.open(streamed) as reader:
            return sum(len(chunk) for chunk in iter(lambda: reader.read(MB), b""))

    def copy_size() -> int:
        with storage.local_copy(adopted) as copy:
            return copy.stat().st_size

    def put_file() -> int:
        with open(source, "rb") as file:
            return storage.put(file, streamed)

    tracemalloc.start()
    try:
        for name, step in (
            ("adopt", lambda: storage.adopt(tmp_path, adopted)),
            ("put", put_file),
            ("open", read_all),
            ("local_copy", copy_size),
        ):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            result = step()
            peaks[name] = tracemalloc.get_traced_memory()[1] - before
            assert result in (None, size), name
    finally:
        tracemalloc.stop()
        source.unlink()
    assert storage.size(adopted) == storage.size(streamed) == size
    print({name: f"{peak / MB:.1f} MiB" for name, peak in peaks.items()})
    # The file is 64 MiB; at most two 8 MiB parts are in flight at once.
    assert max(peaks.values()) < 20 * MB, peaks


# --- The site on S3 ----------------------------------------------------------------------------


def test_a_photo_entry_lives_in_the_bucket_and_is_served_from_it(app, client, submit, s3, bucket):
    assert submit().status_code == 303
    stored = assets(app)
    assert set(objects(s3, bucket)) == {f"{PREFIX}/{a.key}" for a in stored.values()}
    assert all(objects(s3, bucket)[f"{PREFIX}/{a.key}"] == a.size for a in stored.values())
    assert local_files(app) == []  # nothing on this server's disk, the spooled upload gone
    assert (Path(app.config["UPLOAD_FOLDER"]) / "tmp").is_dir()

    key = stored["thumbnail"].key
    with client.get(f"/media/{key}") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Accept-Ranges"] == "bytes"
        assert response.cache_control.public and response.cache_control.immutable
        assert response.cache_control.max_age == app.config["MEDIA_CACHE_SECONDS"]
        assert int(response.headers["Content-Length"]) == stored["thumbnail"].size
        whole, etag = response.data, response.headers["ETag"]
    assert whole[:2] == b"\xff\xd8"
    with client.get(f"/media/{key}", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.data == b""
    with client.get(f"/media/{key}", headers={"Range": "bytes=100-199"}) as part:
        assert part.status_code == 206
        assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
        assert part.data == whole[100:200]
    with client.get(f"/media/{key}", headers={"Range": f"bytes={len(whole) + 10}-"}) as beyond:
        assert beyond.status_code == 416
    assert client.get(f"/media/{stored['original'].key}").status_code == 404


def test_withdrawing_removes_the_objects(app, client, submit, s3, bucket):
    location = submit().headers["Location"]
    assert len(objects(s3, bucket)) == 3
    assert client.post(location + "/withdraw").status_code == 303
    assert objects(s3, bucket) == {}


def test_a_refused_upload_leaves_no_object_and_no_temp_file(app, submit, s3, bucket):
    response = submit(json=True, media=b"GIF89a not really a photo", filename="x.jpg")
    assert response.status_code == 415
    assert objects(s3, bucket) == {} and local_files(app) == []
    with app.app_context():  # a file put for a row whose transaction then fails goes too
        key = get_storage().new_key("originals", ".jpg")
        get_storage().put(photo_bytes(), key)
        begin_write()
        remove_unless_committed([key])
        db.session.rollback()
    assert objects(s3, bucket) == {}


def test_a_video_entry_gets_its_playback_copy_in_the_bucket(
    app, client, submit, s3, bucket, tmp_path
):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, seconds=1.2)
    response = submit(json=True, media=clip.read_bytes(), filename="clip.mp4")
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        assert entry.playback_status == "ready", entry.playback_error
        playback = entry.asset("playback").key
    assert f"{PREFIX}/{playback}" in objects(s3, bucket) and len(objects(s3, bucket)) == 4
    assert local_files(app) == []  # the transcode's input and output copies are gone
    with client.get(f"/media/{playback}") as whole:
        assert whole.headers["Content-Type"] == "video/mp4"
        data = whole.data
    with av.open(io.BytesIO(data)) as played:
        assert played.streams.video[0].codec_context.name == "h264"
    with client.get(f"/media/{playback}", headers={"Range": "bytes=0-99"}) as part:
        assert part.status_code == 206 and part.data == data[:100]


def test_zoom_copy_and_the_admins_original_download_come_from_the_bucket(
    app, client, submit, make_user, login, s3, bucket
):
    original = photo_bytes(size=(1600, 1200), seed=4)
    assert submit(media=original).status_code == 303
    with app.app_context():
        entry_id, receipt = db.session.execute(select(Entry.id, Entry.receipt)).one()
    make_user("judge-s3")
    login("judge-s3")
    with client.get(f"/judge/entries/{entry_id}/full") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.cache_control.private and not response.cache_control.public
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        full = response.data
    assert f"{PREFIX}/{assets(app)['full'].key}" in objects(s3, bucket)
    assert len(full) == assets(app)["full"].size and local_files(app) == []

    client.post("/logout")
    make_user("boss-s3", role="admin")
    login("boss-s3")
    with client.get(f"/admin/entries/{entry_id}/original") as download:
        assert download.status_code == 200
        assert download.data == original
        assert download.headers["Content-Disposition"] == f"attachment; filename={receipt}.jpg"
        assert download.headers["Content-Type"] == "application/octet-stream"
        assert download.headers["Cache-Control"] == "no-store"
        assert "sandbox" in download.headers["Content-Security-Policy"]
    assert local_files(app) == []


def test_the_winners_zip_streams_originals_from_the_bucket(app, client, admin, winners):  # noqa: F811
    response = client.get("/admin/export/winners.zip")
    assert response.status_code == 200 and response.is_streamed
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        originals = [n for n in archive.namelist() if n.endswith(".jpg")]
        assert len(originals) == 4
        grand = next(n for n in originals if n.startswith("대상_사진_"))
        assert archive.read(grand) == original_bytes(app, winners["grand"])


def test_the_public_copies_are_made_from_the_bucket(app, client, admin, works):  # noqa: F811
    with download(client) as archive:
        assert len(archive.namelist()) == 4  # three works and README.txt
        with Image.open(io.BytesIO(member(archive, ".jpg", "남산의-아침"))) as im:
            assert im.size == (900, 1200) and len(im.getexif()) == 0
    assert local_files(app) == []  # the local copies and clean copies were removed


def test_the_purge_rewrites_kept_originals_in_the_bucket(app, runner, kept, s3, bucket):  # noqa: F811
    before = {name: stored_original(app, i)[0] for name, (i, _) in kept.items()}
    result = runner.invoke(args=PURGE)
    assert "from 5 kept originals" in result.output
    listed = objects(s3, bucket)
    for name in ("jpeg", "heic", "png", "video"):
        key, data, _ = stored_original(app, kept[name][0])
        assert f"{PREFIX}/{key}" in listed and f"{PREFIX}/{before[name]}" not in listed
        assert b"Hong Gildong" not in data
    assert local_files(app) == []


def test_doctor_lists_repairs_and_then_passes_on_s3(app, runner, submit, s3, bucket):
    assert submit().status_code == 303
    thumbnail = assets(app)["thumbnail"]
    s3.delete_object(Bucket=bucket, Key=f"{PREFIX}/{thumbnail.key}")
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/derived/zz/left-behind.jpg", Body=b"x")
    s3.put_object(Bucket=bucket, Key="not-ours/other-site.jpg", Body=b"x")  # outside the prefix
    leftover = Path(app.config["UPLOAD_FOLDER"]) / "tmp" / "upload-999999999-dead.part"
    leftover.write_bytes(b"half an upload")

    report = runner.invoke(args=["doctor"])
    assert report.exit_code == 1
    assert "missing-derivative" in report.output and thumbnail.key in report.output
    assert "orphan-file" in report.output and "derived/zz/left-behind.jpg" in report.output
    assert "stale-temp" in report.output and "other-site" not in report.output

    assert runner.invoke(args=["doctor", "--repair"]).exit_code == 0
    assert runner.invoke(args=["doctor"]).exit_code == 0
    assert f"{PREFIX}/derived/zz/left-behind.jpg" not in objects(s3, bucket)
    rebuilt = assets(app)["thumbnail"]  # under a new key
    assert objects(s3, bucket)[f"{PREFIX}/{rebuilt.key}"] == rebuilt.size
    assert "not-ours/other-site.jpg" in objects(s3, bucket)
    assert local_files(app) == []


def test_a_backup_of_an_s3_site_copies_its_objects(app, runner, submit, tmp_path):
    assert submit().status_code == 303
    out = tmp_path / "backup"
    result = runner.invoke(args=["backup", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        for asset in assets(app).values():
            with get_storage().open(asset.key) as stored:
                assert (out / "uploads" / asset.key).read_bytes() == stored.read()


def test_a_resumable_upload_becomes_an_entry_in_the_bucket(app, client, s3, bucket):
    data = photo_bytes(seed=515)
    url = create(client, len(data)).headers["Location"]
    assert patch(client, url, 0, data).headers["Upload-Offset"] == str(len(data))
    fields = entry_form(upload=url.rsplit("/", 1)[1])
    del fields["media"]
    assert client.post("/submit", data=fields).status_code == 303
    original = assets(app)["original"]
    assert objects(s3, bucket)[f"{PREFIX}/{original.key}"] == len(data)
    assert local_files(app) == []  # the in-flight bytes went to the bucket, nothing left here
    assert client.head(url, headers=TUS).status_code == 404
