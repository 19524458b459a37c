"""The live wall on the real server (nginx in front of gunicorn, as `make run` serves it): the
event stream delivers an approval and a withdrawal within 2 s each, and 50 open walls leave
uploads as fast as without them while a judge scores entries all along."""

from __future__ import annotations

import http.client
import json
import random
import re
import signal
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from .photos import photo_bytes
from .server_helpers import HOST, Visitor, flask_in_process, query, visitor_fields
from .test_server import running_site, site  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _post(visitor: Visitor, path: str, fields: dict[str, str], headers=None):
    """POST a urlencoded form on the visitor's connection (cookies kept)."""
    body = urlencode(fields)
    visitor.connection.request(
        "POST",
        path,
        body=body,
        headers=visitor._headers(
            {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        ),
    )
    return visitor._finish()


def _signed_in_admin(site) -> tuple[Visitor, str]:  # noqa: F811
    flask_in_process(
        site.env, ("create-user", "organiser", "--role", "admin", "--password", PASSWORD)
    )
    admin = Visitor(site.server.port)
    token = _TOKEN.search(admin.get("/login").text).group(1)
    response = _post(
        admin, "/login", {"username": "organiser", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status == 303, response.text
    token = _TOKEN.search(admin.get("/admin/wall").text).group(1)
    return admin, token


class WallReader:
    """One open wall: reads /wall/events line by line in a thread, noting when each event came."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)
        self.connection.request("GET", "/wall/events", headers={"Accept": "text/event-stream"})
        self.response = self.connection.getresponse()
        self.events: list[tuple[float, dict]] = []
        self.arrived = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while line := self.response.readline():
                text = line.decode().rstrip("\n")
                if text.startswith('data: {"'):
                    with self.arrived:
                        self.events.append((time.monotonic(), json.loads(text[6:])))
                        self.arrived.notify_all()
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by the test (http.client drops its file: AttributeError)

    def wait_for(self, public_id: str, action: str, timeout: float = 10) -> float:
        """When the event came (monotonic seconds); fails after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for at, data in self.events:
                    if data["public_id"] == public_id and data["action"] == action:
                        return at
                left = deadline - time.monotonic()
                assert left > 0, f"no {action} event for {public_id}: {self.events}"
                self.arrived.wait(left)

    def close(self) -> None:
        self.connection.close()


def test_the_stream_delivers_an_approval_and_then_a_withdrawal_within_two_seconds(site):  # noqa: F811
    with Visitor(site.server.port) as visitor:
        entered = visitor.post_entry({**visitor_fields(1), "consent_publish": "y"}, photo_bytes())
    assert entered.status == 201, entered.text
    receipt = json.loads(entered.text)["receipt"]
    ((entry_id, public_id),) = query(
        site.database, "SELECT id, public_id FROM entry WHERE receipt = :r", r=receipt
    )
    admin, token = _signed_in_admin(site)
    wall = WallReader(site.server.port)
    try:
        assert wall.response.status == 200
        assert wall.response.headers["Content-Type"].startswith("text/event-stream")
        time.sleep(0.5)  # the wall is following

        asked = time.monotonic()
        approved = _post(
            admin,
            f"/admin/wall/{entry_id}/approve",
            {},
            {"X-CSRFToken": token, "Accept": "application/json"},
        )
        assert approved.status == 200, approved.text
        shown_after = wall.wait_for(public_id, "shown") - asked

        asked = time.monotonic()
        withdrawn = _post(
            admin,
            f"/admin/entries/{entry_id}/withdraw",
            {"csrf_token": token, "withdraw-reason": "응모자 요청"},
        )
        assert withdrawn.status == 303, withdrawn.text
        removed_after = wall.wait_for(public_id, "removed") - asked
    finally:
        wall.close()
        admin.close()
    print(f"\nwall events: shown after {shown_after:.2f} s, removed after {removed_after:.2f} s")
    assert shown_after < 2 and removed_after < 2
    (shown,) = [d for _at, d in wall.events if d["action"] == "shown"]
    assert shown["entry"]["name"] == "방**1"  # 방문객1, masked
    assert receipt not in json.dumps(wall.events, ensure_ascii=False)


WALLS = 50
PAIRS = 48  # uploads a side (and two to warm up), within the 60 a minute one address may send
POLL_SECONDS = 1.5  # WALL_POLL_SECONDS, as the page's script polls


class OpenWalls:
    """`count` walls as the page's script behaves: the stream when the server has one to
    spare, else a poll of /wall/events.json every POLL_SECONDS; every answer is recorded."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.failures: list[str] = []
        self.streams = 0
        self.connections: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._wall, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _note(self, status: int) -> None:
        with self.lock:
            self.statuses.append(status)

    def _wall(self) -> None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
        with self.lock:
            self.connections.append(connection)
        try:
            connection.request("GET", "/wall/events", headers={"Accept": "text/event-stream"})
            response = connection.getresponse()
            self._note(response.status)
            if response.status == 200:
                with self.lock:
                    self.streams += 1
                while not self.stop.is_set() and response.readline():
                    pass
                return
            response.read()
            after = json.loads(self._get(connection, "/wall/entries.json").decode() or "{}").get(
                "last_event", 0
            )
            # Walls opened at different moments poll out of step, not all in one burst.
            if self.stop.wait(random.uniform(0, POLL_SECONDS)):
                return
            while not self.stop.wait(POLL_SECONDS):
                answer = json.loads(self._get(connection, f"/wall/events.json?after={after}"))
                after = answer["last_event"]
        except Exception as error:  # noqa: BLE001  (any failure of a wall is what we count)
            if not self.stop.is_set():
                with self.lock:
                    self.failures.append(repr(error))
        finally:
            connection.close()

    def _get(self, connection: http.client.HTTPConnection, path: str) -> bytes:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
        self._note(response.status)
        if response.status != 200:
            raise AssertionError(f"{path}: {response.status}")
        return body

    def close(self) -> None:
        """Close every wall as a browser tab closes: its connection ends."""
        self.stop.set()
        with self.lock:
            for connection in self.connections:
                if connection.sock is not None:
                    try:
                        connection.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass  # already closed
        for thread in self.threads:
            thread.join(timeout=5)


_ANY_TOKEN = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
_RADIO = re.compile(r'<input type="radio" name="([\w-]+)" value="(\d+)"')
_ROUND = re.compile(r'name="round_id" value="(\d+)"')
_SCORE_FORM = re.compile(r'<form method="post" action="([^"]+)" id="score-form"')


class JudgeAtWork:
    """A judge working through the queue in a thread, as on the review screen: the next entry,
    its page, a score saved (every criterion 7, or "pass" in a screening round), again."""

    def __init__(self, site, username: str) -> None:  # noqa: F811
        flask_in_process(
            site.env, ("create-user", username, "--role", "judge", "--password", PASSWORD)
        )
        self.judge = Visitor(site.server.port)
        token = _TOKEN.search(self.judge.get("/login").text).group(1)
        answer = _post(
            self.judge, "/login", {"username": username, "password": PASSWORD, "csrf_token": token}
        )
        assert answer.status == 303, answer.text
        self.saved = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        try:
            while not self.stop.is_set():
                next_entry = self.judge.get("/judge/next")
                location = next_entry.headers.get("Location", "")
                if next_entry.status != 303 or "/judge/entries/" not in location:
                    self.stop.wait(0.5)  # nothing to score yet (the queue fills with uploads)
                    continue
                path = location[location.index("/judge/entries/") :]
                page = self.judge.get(path)
                if page.status != 200:
                    self.failures.append(f"GET {path}: {page.status}")
                    continue
                fields = {
                    "csrf_token": _ANY_TOKEN.search(page.text).group(1),
                    "round_id": _ROUND.search(page.text).group(1),
                }
                criteria = {name for name, _value in _RADIO.findall(page.text)}
                if criteria:
                    fields.update({name: "7" for name in criteria})
                else:
                    fields["verdict"] = "y"
                action = _SCORE_FORM.search(page.text).group(1)
                saved = _post(self.judge, action, fields)
                if saved.status != 303:
                    self.failures.append(f"POST {action}: {saved.status} {saved.text[:200]}")
                else:
                    self.saved += 1
                self.stop.wait(0.5)  # a quick judge still looks at the photo
        except Exception as error:  # noqa: BLE001  (any failure of the judge is what we count)
            self.failures.append(repr(error))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.judge.close()


def _upload_together(ports: tuple[int, ...], n: int) -> list[float]:
    """The same photo uploaded to each port at the same moment, one thread a port; the
    seconds each upload took (the form page fetched before the clock starts)."""
    photo = photo_bytes(seed=5000 + n)
    ready = threading.Barrier(len(ports))

    def upload(port: int) -> float:
        with Visitor(port) as visitor:
            token = visitor.csrf_token()
            ready.wait(timeout=60)
            started = time.monotonic()
            response = visitor.post_entry(visitor_fields(n), photo, token=token)
            took = time.monotonic() - started
        assert response.status == 201, response.text
        return took

    with ThreadPoolExecutor(len(ports)) as pool:
        return list(pool.map(upload, ports))


def test_fifty_open_walls_leave_uploads_as_fast_as_without_them(site, tmp_path_factory):  # noqa: F811
    # Each upload to the site with the walls open is paired with the same upload to a twin site
    # without walls, both sent at the same moment from two threads, and the pairs' ratios are
    # compared: whatever else the machine does meanwhile slows both uploads of a pair alike.
    # Comparing phases some seconds apart made the ratio anything from -19 % to +139 % on a busy
    # CI machine (the suite's other workers take the CPU in bursts); pairs sent one after the
    # other spread from -30 % to +50 % (quartiles) in the suite, and their median passed +20 %
    # by chance in two whole-suite runs (+27 %, +23 %). The walls poll out of step, as walls
    # opened by different people at different moments do, not in one burst every 1.5 s.
    with running_site(tmp_path_factory.mktemp("twin-without-walls")) as twin:
        # Judging goes on all along, on both sites: only the walls differ.
        judges = [JudgeAtWork(s, "wall-judge") for s in (site, twin)]
        ports = (site.server.port, twin.server.port)
        for n in range(2):
            _upload_together(ports, n)  # workers, photo decoders, caches
        walls = OpenWalls(site.server.port, WALLS)
        time.sleep(2)  # every wall has its stream or has started polling
        with_walls, without = [], []
        try:
            for n in range(100, 100 + PAIRS):
                walled, alone = _upload_together(ports, n)
                with_walls.append(walled)
                without.append(alone)
        finally:
            walls.close()
            for judge in judges:
                judge.close()
        twin_log = twin.log()

    ratios = [w / wo for w, wo in zip(with_walls, without, strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"\n{PAIRS} uploads a side: with {WALLS} open walls the median pair took {ratio - 1:+.0%}"
        f" (quartiles {[f'{q - 1:+.0%}' for q in statistics.quantiles(ratios, n=4)]});"
        f" median upload {statistics.median(with_walls) * 1000:.0f} ms with the walls,"
        f" {statistics.median(without) * 1000:.0f} ms without; {walls.streams} streams,"
        f" {len(walls.statuses)} wall requests; the judges saved {[j.saved for j in judges]}"
    )
    for judge in judges:
        assert judge.failures == []
        assert judge.saved > 0
    assert walls.failures == []
    assert set(walls.statuses) <= {200, 503}
    # At most two streams on each of the two workers; every other wall polls. A worker busy with
    # an upload when the walls open may accept none of them (the other accepts first, keeps two
    # and turns the rest to polling), so there may be only two.
    assert 2 <= walls.streams <= 4
    assert "Traceback" not in site.log() + twin_log
    assert ratio <= 1.2


def test_a_server_stopping_ends_the_walls_streams_at_once(site):  # noqa: F811
    """A restart (SIGTERM to gunicorn's master, as systemd sends it) with a wall still
    watching: the stream ends and the server is gone within seconds, not after gunicorn's
    30 s graceful timeout. nginx stays up until gunicorn has stopped, so the wall's connection
    stays open all along."""
    wall = WallReader(site.server.port)
    try:
        assert wall.response.status == 200
        time.sleep(1)  # the stream is under way
        asked = time.monotonic()
        site.server.process.send_signal(signal.SIGTERM)
        site.server.process.wait(timeout=60)
        took = time.monotonic() - asked
        wall.thread.join(timeout=5)
        assert not wall.thread.is_alive()  # the stream ended: the wall reconnects elsewhere
    finally:
        wall.close()
    print(f"\nstopped {took:.1f} s after SIGTERM with a wall watching")
    # 3.4 s on a quiet machine (gunicorn lets kept-alive connections linger 2 s, then nginx
    # stops); 30.5 s when the streams were left to run into the graceful timeout.
    assert took < 15
