"""The site under a real gunicorn: many visitors at once, and a server killed mid-upload.

These start real processes on the loopback, so they are marked slow (`-m 'not slow'` skips them).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from contest.services.doctor import KINDS as DOCTOR_KINDS

from . import databases
from .photos import photo_bytes
from .server_helpers import (
    HOST,
    PROJECT_ROOT,
    Server,
    Visitor,
    become_subreaper,
    files_under,
    flask,
    flask_in_process,
    receipts,
    sha256_of,
    site_env,
    stop_being_subreaper,
    stored_assets,
    visitor_fields,
)

pytestmark = pytest.mark.slow

VISITORS = 40
# What a dropped connection looks like to a client, whichever side of the request it was on.
CONNECTION_LOST = (OSError, http.client.HTTPException)


@dataclass
class Site:
    """A site's folders, its environment and the server running it."""

    root: Path
    env: dict[str, str]
    server: Server

    @property
    def database(self) -> str:
        return self.env["CONTEST_SQLALCHEMY_DATABASE_URI"]

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def nginx_bodies(self) -> Path:
        """Where nginx keeps request bodies while they arrive (server/nginx.conf.in)."""
        return self.root / "instance" / "nginx" / "client_body"

    def bodies_arriving(self) -> list[int]:
        """The sizes of the bodies nginx is taking in. It unlinks each temporary file as soon
        as it has opened it (so a crash leaves none), so they are found among its open files."""
        sizes = []
        for pid in self.server.proxy():
            for fd in Path(f"/proc/{pid}/fd").glob("*"):
                try:
                    if str(self.nginx_bodies) in os.readlink(fd):
                        sizes.append(fd.stat().st_size)
                except OSError:
                    pass  # closed meanwhile
        return sizes

    def restart(self) -> None:
        self.server = Server(self.env, self.server.log).start()

    def log(self) -> str:
        return self.server.log.read_text(errors="replace")


@contextmanager
def running_site(root: Path) -> Iterator[Site]:
    """A freshly initialised site under `root`, served by nginx and gunicorn as `make run`
    serves it; stopped (never leaked) when the block ends."""
    env = site_env(root)
    flask_in_process(env, ("init-db",))
    site = Site(root, env, Server(env, root / "gunicorn.log"))
    try:
        site.server.start()
        yield site
    finally:
        site.server.stop()
        databases.drop_site(root)


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    """A freshly initialised site served by gunicorn; stopped (never leaked) afterwards."""
    adopting = become_subreaper()  # so workers killed with their master can be reaped
    try:
        with running_site(tmp_path) as site:
            yield site
    finally:
        if adopting:
            stop_being_subreaper()


def _assert_consistent(site: Site) -> list:
    """No temp file, exactly the rows' files on disk, every original intact, every derivative
    decodable; returns the asset rows."""
    assets = stored_assets(site.database)
    on_disk = sorted(files_under(site.uploads))
    assert [f for f in on_disk if f.startswith("tmp/")] == []
    assert on_disk == sorted(a.key for a in assets)
    by_receipt: dict[str, dict[str, object]] = {}
    for asset in assets:
        by_receipt.setdefault(asset.receipt, {})[asset.role] = asset
        path = site.uploads / asset.key
        assert path.stat().st_size == asset.size, asset
        if asset.role == "original":
            assert sha256_of(path) == asset.entry_sha256, asset
        else:
            with Image.open(path) as image:
                image.load()  # a real decode: a truncated file fails here
    for receipt, roles in by_receipt.items():
        assert set(roles) == {"original", "preview", "thumbnail"}, receipt
    return assets


def test_forty_visitors_upload_at_the_same_moment(site):
    photos = [photo_bytes(seed=1000 + n) for n in range(VISITORS)]
    ready = threading.Barrier(VISITORS, timeout=60)

    def visit(n: int):
        with Visitor(site.server.port) as visitor:
            token = visitor.csrf_token()
            ready.wait()  # every visitor has the form open: now all press "submit" at once
            started = time.monotonic()
            response = visitor.post_entry(visitor_fields(n), photos[n], token=token)
            return response, time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=VISITORS) as pool:
        results = list(pool.map(visit, range(VISITORS)))
    elapsed = time.monotonic() - started
    slowest = max(seconds for _, seconds in results)
    print(f"\n{VISITORS} concurrent uploads: {elapsed:.1f} s in all, slowest {slowest:.1f} s")

    bodies = [response.text for response, _ in results]
    assert not [b for b in bodies if "database is locked" in b]
    assert [response.status for response, _ in results] == [201] * VISITORS, bodies
    accepted = {json.loads(body)["receipt"] for body in bodies}
    assert len(accepted) == VISITORS
    assert "database is locked" not in site.log() and "Traceback" not in site.log()

    assert receipts(site.database) == accepted
    assert len(_assert_consistent(site)) == 3 * VISITORS
    doctor = flask(site.env, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr


def test_a_server_killed_mid_upload_keeps_every_accepted_entry(site):
    accepted: set[str] = set()
    with Visitor(site.server.port) as visitor:
        for n in range(3):
            response = visitor.post_entry(visitor_fields(n), photo_bytes(seed=2000 + n))
            assert response.status == 201, response.text
            accepted.add(json.loads(response.body)["receipt"])

    killed = threading.Event()
    lost: list[Exception] = []
    unexpected: list[str] = []  # answers other than 201 (asserted in the test's own thread)

    def keep_posting(first: int) -> None:
        """Ordinary uploads one after another until the server dies under them."""
        for n in range(first, first + 20):
            try:
                with Visitor(site.server.port) as visitor:
                    response = visitor.post_entry(visitor_fields(n), photo_bytes(seed=2000 + n))
            except CONNECTION_LOST as error:
                lost.append(error)
                return
            if response.status != 201:
                unexpected.append(f"{response.status} {response.text}")
                return
            accepted.add(json.loads(response.body)["receipt"])  # committed before it answered
            if killed.is_set():
                return

    def slow_big_upload(n: int) -> None:
        """A 20 MB upload trickling in from a phone: in flight when the server dies."""
        padded = photo_bytes(seed=2000 + n) + bytes(20 * 1024 * 1024)  # decoders stop at EOI
        try:
            with Visitor(site.server.port) as visitor:
                response = visitor.post_entry(
                    visitor_fields(n), padded, chunk=256 * 1024, pause=0.1
                )
        except CONNECTION_LOST as error:
            lost.append(error)
            return
        unexpected.append(f"a slow upload finished before the crash: {response.status}")

    threads = [threading.Thread(target=slow_big_upload, args=(100 + n,)) for n in range(3)]
    threads += [threading.Thread(target=keep_posting, args=(200 + 20 * n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        # Crash once the three big uploads are streaming in. nginx takes a body whole before
        # gunicorn sees it, so they are in nginx's temporary folder.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len([size for size in site.bodies_arriving() if size > 1 << 20]) >= 3:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the big uploads never reached the server")
    finally:
        site.server.kill()  # master and workers at once: nothing gets to clean up
        killed.set()
        for thread in threads:
            thread.join(timeout=60)
    assert unexpected == []
    assert lost, "the crash interrupted no request"
    # Uploads gunicorn was spooling or checking when it died (there may be none).
    leftovers = sorted(p.name for p in (site.uploads / "tmp").iterdir())

    assert list(site.nginx_bodies.iterdir()) == []  # nginx's files went with it

    site.restart()
    report = flask(site.env, "doctor")
    # What a crash may leave: uploads being spooled or checked (stale temps), and the files of
    # requests killed after storing them but before committing their rows (orphan files; of
    # three posting at once, those waiting for the write lock are all in that window). Nothing
    # else, and nothing of an accepted entry (checked below, after the repair).
    found = {line.split(": ")[0] for line in report.stdout.splitlines()} & set(DOCTOR_KINDS)
    assert found <= {"stale-temp", "orphan-file"}, report.stdout
    assert report.returncode == (1 if found else 0), report.stdout + report.stderr
    for name in leftovers:
        assert "stale-temp: " in report.stdout and name in report.stdout, report.stdout
    repaired = flask(site.env, "doctor", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    again = flask(site.env, "doctor")
    assert again.returncode == 0, again.stdout + again.stderr

    assert accepted <= receipts(site.database)
    _assert_consistent(site)
    print(f"\naccepted before the crash: {len(accepted)}, interrupted: {len(lost)}")
    print(f"doctor found:\n{report.stdout}")

    # And the restarted site takes entries again.
    with Visitor(site.server.port) as visitor:
        response = visitor.post_entry(visitor_fields(999), photo_bytes(seed=2999))
    assert response.status == 201, response.text


SLOW_CLIENTS = 30


def _slow_upload(port: int) -> socket.socket:
    """A phone on bad Wi-Fi: the headers of a 1 MB upload, then (see `trickle`) a byte now and
    then of its body."""
    conn = socket.create_connection((HOST, port), timeout=10)
    conn.sendall(
        b"POST /submit HTTP/1.1\r\nHost: contest\r\nContent-Length: 1000000\r\n"
        b"Content-Type: multipart/form-data; boundary=slow\r\n\r\n--slow\r\n"
    )
    return conn


def test_slow_uploads_do_not_stall_the_landing_page(site):
    """30 uploads trickling in (a byte every 5 s) hold no thread that `/` needs."""
    slow = [_slow_upload(site.server.port) for _ in range(SLOW_CLIENTS)]
    done = threading.Event()

    def trickle() -> None:
        while not done.wait(5):
            for conn in slow:
                conn.send(b"x")

    trickler = threading.Thread(target=trickle)
    trickler.start()
    timings = []
    try:
        time.sleep(2)  # the server has taken every slow upload in
        for _ in range(5):
            started = time.monotonic()
            conn = http.client.HTTPConnection(HOST, site.server.port, timeout=10)
            try:
                conn.request("GET", "/")
                status = conn.getresponse().status
            except TimeoutError:
                status = "timed out"
            finally:
                conn.close()
            timings.append((status, round(time.monotonic() - started, 2)))
    finally:
        done.set()
        trickler.join()
        for conn in slow:
            conn.close()
    print(f"\nGET / with {SLOW_CLIENTS} slow uploads in flight: {timings}")
    assert all(status == 200 and seconds < 2 for status, seconds in timings), timings


def test_the_logs_hide_receipt_codes_and_searches(site):
    name = "홍길동"
    with Visitor(site.server.port) as visitor:
        response = visitor.post_entry(visitor_fields(1), photo_bytes(seed=3001))
        assert response.status == 201, response.text
        code = json.loads(response.body)["receipt"]
        search = f"/admin/entries?q={quote(name)}&status=pending"
        for path in (
            f"/receipt/{code}",
            f"/receipt/{code}/withdraw",
            f"/receipt?code={code}",
            f"/language/en?next={quote(f'/receipt/{code}', safe='')}",
            search,
            f"/admin/audit?q={quote(name)}",
        ):
            assert visitor.get(path).status in (200, 303), path
        # The referrer of a page opened from the receipt carries the code too.
        visitor.connection.request(
            "GET", "/winners", headers={"Referer": f"http://contest/receipt/{code}"}
        )
        visitor._finish()
    # A body too large for nginx: its error log quotes the request line.
    conn = socket.create_connection((HOST, site.server.port), timeout=10)
    conn.sendall(
        f"POST /receipt/{code}/withdraw HTTP/1.1\r\nHost: contest\r\n"
        "Content-Length: 9000000000\r\n\r\n".encode()
    )
    assert b" 413 " in conn.recv(1024)
    conn.close()
    site.server.stop()  # every line written

    log = site.log()
    print("\n" + "\n".join(line for line in log.splitlines() if "***" in line))
    assert code not in log
    assert name not in log and quote(name) not in log
    assert '"GET /receipt/***/withdraw HTTP/1.1" 200' in log
    assert '"GET /receipt?*** HTTP/1.1"' in log and '"GET /admin/entries?*** HTTP/1.1"' in log
    assert '"GET /language/en?next=*** HTTP/1.1"' in log
    assert '"http://contest/receipt/***"' in log
    assert "too large body" in log and 'request: "POST /receipt/***/withdraw HTTP/1.1"' in log


def test_a_body_over_the_limit_gets_the_apps_own_413_through_nginx(site):
    """nginx refuses it unread; the visitor still reads the app's message, naming the limits."""
    for accept, expect in (("application/json", b'"media"'), ("text/html", "사진은".encode())):
        conn = socket.create_connection((HOST, site.server.port), timeout=10)
        conn.sendall(
            "POST /submit HTTP/1.1\r\nHost: contest\r\nConnection: close\r\n"
            f"Accept: {accept}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            "Content-Length: 9000000000\r\n\r\n".encode()
        )
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        conn.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert expect in answer and b"8.4 GB" in answer, answer[-600:]


def test_the_app_the_workers_are_forked_from_holds_no_connection_and_no_thread(tmp_path):
    """gunicorn makes the app once and forks its workers from it (preload_app in
    server/gunicorn_conf.py): a database connection made by then would be shared by the
    workers' threads, and a thread would be missing from every worker."""
    probe = (
        "import threading, wsgi\n"
        "from contest.core.extensions import db\n"
        "with wsgi.app.app_context():\n"
        "    pools = [engine.pool for engine in db.engines.values()]\n"
        "print(len(pools), sum(p.checkedin() + p.checkedout() for p in pools),"
        " threading.active_count())\n"
    )
    try:
        made = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=PROJECT_ROOT,
            env=site_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        databases.drop_site(tmp_path)
    assert made.returncode == 0, made.stderr
    engines, connections, threads = map(int, made.stdout.split())
    assert engines >= 1
    assert (connections, threads) == (0, 1)
