"""Several app servers behind one load balancer, as docs/OPERATIONS.md sets them up.

Two gunicorn servers stand for two machines: each has its own instance and upload folder, and
they share only what the guide says to share: the database, the object store (a real
S3-compatible server on the loopback), the secret key, and, when the run has Redis
(`make test-postgres`), the job queue and the rate-limit counters. A visitor may land on either
server for any request.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import databases
from .media.videogen import write_clip
from .photos import photo_bytes
from .server_helpers import (
    VENV_BIN,
    Response,
    Server,
    Visitor,
    flask_in_process,
    site_env,
    visitor_fields,
)
from .test_storage_s3 import bucket, objects, s3, s3_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

ON_REDIS = os.environ.get("CONTEST_HUEY_URL", "").startswith("redis://")
needs_redis = pytest.mark.skipif(
    not ON_REDIS, reason="shared queues and counters need Redis (make test-postgres)"
)
ENTRIES_PER_ENTRANT = 2
SUBMITS_PER_MINUTE = 8


@dataclass
class Cluster:
    servers: list[Server]
    machines: list[Path]
    env: dict[str, str]

    def visitor(self, n: int) -> Visitor:
        """A browser that the load balancer sent to server n % 2."""
        return Visitor(self.servers[n % len(self.servers)].port)


def _machine(env: dict[str, str], root: Path) -> dict[str, str]:
    """The environment of one machine: the shared settings, with its own local folders."""
    return env | {
        "CONTEST_INSTANCE_PATH": str(root / "instance"),
        "CONTEST_UPLOAD_FOLDER": str(root / "uploads"),
    }


@pytest.fixture
def cluster(tmp_path, s3_server, bucket, s3_env) -> Iterator[Cluster]:  # noqa: F811
    shared = site_env(tmp_path) | {
        "CONTEST_SECRET_KEY": secrets.token_hex(32),  # one key, or sessions break between them
        "CONTEST_STORAGE_URL": f"s3://{bucket}/site",
        "CONTEST_S3_ENDPOINT_URL": s3_server.url,
        "CONTEST_S3_REGION": "us-east-1",
        "CONTEST_MAX_ENTRIES_PER_ENTRANT": str(ENTRIES_PER_ENTRANT),
        "CONTEST_SUBMIT_RATE_LIMIT": f"{SUBMITS_PER_MINUTE} per minute",
    }
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    flask_in_process(_machine(shared, machines[0]), ("init-db",))
    servers: list[Server] = []
    try:
        for root in machines:
            root.mkdir(exist_ok=True)
            servers.append(Server(_machine(shared, root), root / "gunicorn.log").start())
        yield Cluster(servers, machines, shared)
    finally:
        for server in servers:
            server.stop()
        databases.drop_site(tmp_path)


def _entry(visitor: Visitor, n: int, media: bytes, **fields) -> Response:
    return visitor.post_entry(visitor_fields(n) | fields, media)


def test_a_visitor_may_land_on_either_server_for_each_request(cluster, s3, bucket):  # noqa: F811
    first, second = cluster.visitor(0), cluster.visitor(1)
    with first, second:
        token = first.csrf_token()  # the form came from server A...
        second.cookies = dict(first.cookies)  # ...the POST goes to server B, same browser
        accepted = second.post_entry(visitor_fields(1), photo_bytes(seed=1), token=token)
        assert accepted.status == 201, accepted.text
        receipt_url = json.loads(accepted.body)["url"]

        receipt = first.get(receipt_url)  # and the receipt is read on server A again
        assert receipt.status == 200
        thumbnail = receipt.text.split('src="/media/', 1)[1].split('"', 1)[0]
        for visitor in (first, second):
            media = visitor.get(f"/media/{thumbnail}")
            assert media.status == 200 and media.headers["Content-Type"] == "image/jpeg"

    stored = objects(s3, bucket)
    assert len(stored) == 3 and all(key.startswith("site/") for key in stored)
    for machine in cluster.machines:  # neither machine keeps a file of its own
        assert [p for p in (machine / "uploads").rglob("*") if p.is_file()] == []


def test_an_entrants_limit_holds_across_servers(cluster):
    """Six entries by one person at the same moment, three on each server: two go in."""

    def enter(n: int) -> int:
        with cluster.visitor(n) as visitor:
            fields = {"email": "same@example.com", "phone": "010-2222-3333"}
            return _entry(visitor, n, photo_bytes(seed=100 + n), **fields).status

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(enter, range(6)))
    assert statuses == [201] * ENTRIES_PER_ENTRANT + [409] * (6 - ENTRIES_PER_ENTRANT)


@needs_redis
def test_rate_limits_count_every_server_together(cluster):
    """The submit limit is one budget per address for the whole site, not one per server."""
    statuses = []
    for n in range(SUBMITS_PER_MINUTE + 4):
        with cluster.visitor(n) as visitor:
            statuses.append(visitor.post_entry({}, b"").status)  # an empty form: 400, or 429
    assert statuses.count(429) == 4, statuses
    assert 429 not in statuses[:SUBMITS_PER_MINUTE]


@needs_redis
def test_a_video_sent_to_one_server_is_made_playable_by_a_worker_elsewhere(cluster, tmp_path):
    import subprocess

    clip = write_clip(tmp_path / "clip.mp4", seconds=1.2)
    worker_machine = tmp_path / "machine-c"
    worker_machine.mkdir()
    with open(worker_machine / "worker.log", "ab") as log:
        worker = subprocess.Popen(
            [str(VENV_BIN / "flask"), "--app", "wsgi", "worker"],
            cwd=Path(__file__).parents[1],
            env=_machine(cluster.env, worker_machine),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with cluster.visitor(0) as visitor:
            accepted = _entry(visitor, 7, clip.read_bytes())
            assert accepted.status == 201, accepted.text
            url = json.loads(accepted.body)["url"]
            deadline = time.monotonic() + 60
            while "<video" not in (page := visitor.get(url).text):
                assert time.monotonic() < deadline, (worker_machine / "worker.log").read_text()
                time.sleep(0.5)
        with cluster.visitor(1) as other:
            source = page.split('<source src="/media/', 1)[1].split('"', 1)[0]
            played = other.get(f"/media/{source}")
            assert played.status == 200 and played.headers["Content-Type"] == "video/mp4"
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)
