"""The real server (nginx in front of gunicorn, as `make run` starts it) on the loopback, and
visitors that talk to it the way browsers do.

Used by the slow server tests. Every process started here runs in its own process group, so
stopping it (or SIGKILLing it to simulate a crash) reaches the master and all its workers at
once, and nothing outlives the test.
"""

from __future__ import annotations

import ctypes
import hashlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from sqlalchemy import create_engine, text

from contest import create_app
from contest.core.extensions import db

from . import databases

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
TIMEOUT = 60  # seconds, for any single request or command

_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def site_env(root: Path) -> dict[str, str]:
    """The environment of a site whose instance folder and uploads live under `root`.

    Its database is a new one (`databases.site_url`: a SQLite file under `root`, or a database
    on the test PostgreSQL server, to drop with `databases.drop_site`). Where the tests run
    with Redis (make test-postgres), the site's queue and rate limits are on it, under names
    of the site's own.
    """
    scale_out = {k: os.environ[k] for k in _SHARED_SERVICES if k in os.environ}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTEST_", "FLASK_"))}
    own = secrets.token_hex(6)
    env.update(
        scale_out,
        CONTEST_INSTANCE_PATH=str(root / "instance"),
        CONTEST_UPLOAD_FOLDER=str(root / "uploads"),
        CONTEST_SQLALCHEMY_DATABASE_URI=databases.site_url(root),
        CONTEST_HUEY_NAME=f"site-{own}",
        CONTEST_RATELIMIT_KEY_PREFIX=f"site-{own}",
        # As in production: CSRF on, jobs queued for a worker rather than run in the request.
        CONTEST_WTF_CSRF_ENABLED="true",
        CONTEST_HUEY_IMMEDIATE="false",
        PYTHONUNBUFFERED="1",
    )
    return env


_SHARED_SERVICES = ("CONTEST_HUEY_URL", "CONTEST_RATELIMIT_STORAGE_URI")


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi ARGS` in the project root; never hangs past TIMEOUT."""
    return subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


_ENVIRON = threading.Lock()


def flask_in_process(env: dict[str, str], *commands: tuple[str, ...]) -> None:
    """Run `flask --app wsgi COMMAND` for each command, in this process, and assert each
    succeeded: Flask's CLI runner on the app `flask` would make from `env`. The same commands
    on the same database; a `flask` process costs 2 s of CPU to start (the app's imports),
    this 0.7 s, for a site set up in every server test. `flask()` runs the real process, for
    tests of the command itself."""
    settings = ("CONTEST_", "FLASK_")
    with _ENVIRON:  # the app reads the site's settings from the environment, lent for a moment
        saved = {k: v for k, v in os.environ.items() if k.startswith(settings)}
        for key in saved:
            del os.environ[key]  # the site's settings only, as its own process would see
        os.environ.update({k: v for k, v in env.items() if k.startswith(settings)})
        try:
            app = create_app()
        finally:
            for key in [k for k in os.environ if k.startswith(settings)]:
                del os.environ[key]
            os.environ.update(saved)
    runner = app.test_cli_runner()
    try:
        for command in commands:
            done = runner.invoke(args=list(command))
            assert done.exit_code == 0, f"flask {' '.join(command)}:\n{done.output}"
    finally:
        with app.app_context():
            db.engine.dispose()  # the site's own processes open their own connections


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# Processes ----------------------------------------------------------------------------------
def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux only; False elsewhere).

    SIGKILLing a gunicorn master orphans its workers. Where PID 1 does not reap orphans (many
    containers), a killed worker stays a zombie, and `doctor` (which probes pids with signal 0)
    would take its temporary files for uploads still in flight. Adopting them lets `Server.kill`
    reap them, as systemd or a real init would.
    """
    if not sys.platform.startswith("linux"):
        return False
    pr_set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0


def stop_being_subreaper() -> None:
    """Undo `become_subreaper`."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 0, 0, 0, 0)


def _group_members(pgid: int) -> list[int]:
    """The live pids in a process group (from /proc; empty where there is no /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After "pid (comm)": state, ppid, pgrp, ... A zombie has ended already.
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


# The server's command, as `make run` has it: every setting is in the shared config file.
SERVER_CONFIG = PROJECT_ROOT / "server" / "gunicorn_conf.py"


def server_command(*extra: str) -> list[str]:
    """`gunicorn --config server/gunicorn_conf.py [EXTRA] wsgi:app`, as `make run` starts it
    (PORT in the environment); EXTRA overrides a setting, e.g. `--workers 1`."""
    return [str(VENV_BIN / "gunicorn"), "--config", str(SERVER_CONFIG), *extra, "wsgi:app"]


@dataclass
class Server:
    """The site as `make run` serves it (nginx in front of gunicorn, server/gunicorn_conf.py)
    on a free loopback port."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    # The server's temporary folder (TMPDIR), its socket's folder inside: removed once the
    # server is gone, since a server killed on purpose cannot clean up after itself (one was
    # left in /tmp by every run). Short, under /tmp: a socket's path is at most 107 bytes.
    tmp: Path | None = None

    def start(self) -> Server:
        """Start the server and wait until it answers; the log keeps its output."""
        self.tmp = Path(tempfile.mkdtemp(prefix="contest-server-"))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                server_command(),
                cwd=PROJECT_ROOT,
                env={**self.env, "PORT": str(self.port), "TMPDIR": str(self.tmp)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: one signal reaches all
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()}")
            visitor = Visitor(self.port)
            try:
                if visitor.get("/").status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                visitor.close()
            time.sleep(0.2)
        raise TimeoutError(f"the server did not answer within {TIMEOUT} s")

    def workers(self) -> list[int]:
        """The pids of gunicorn's worker processes (forks of the master, same command line)."""
        return [
            pid
            for pid in _group_members(self.process.pid)
            if pid != self.process.pid and _cmdline(pid)[:2] == _cmdline(self.process.pid)[:2]
        ]

    def proxy(self) -> list[int]:
        """The pids of the rest of the group: nginx's master and worker, its log filter."""
        return [
            pid
            for pid in _group_members(self.process.pid)
            if pid != self.process.pid and pid not in self.workers()
        ]

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM); SIGKILL whatever has not gone after 30 s."""
        if self.process is None or self.process.poll() is not None:
            self.kill()
            return
        workers = self.workers()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        self.kill(workers)

    def kill(self, workers: list[int] | None = None) -> None:
        """SIGKILL the master and every worker at once, as a power cut or the OOM killer would,
        and wait until all of them are gone."""
        if self.process is None:
            return
        workers = self.workers() if workers is None else workers
        workers = [*workers, *self.proxy()]
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=TIMEOUT)
        for pid in workers:
            try:  # an orphan we adopted (see become_subreaper): reap it
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        deadline = time.monotonic() + TIMEOUT
        while _group_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


# Visitors ------------------------------------------------------------------------------------
@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Visitor:
    """One browser: its own (keep-alive) connection and cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)

    def __enter__(self) -> Visitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def _headers(self, extra: dict[str, str]) -> dict[str, str]:
        headers = dict(extra)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _finish(self) -> Response:
        response = self.connection.getresponse()
        body = response.read()
        for header in response.headers.get_all("Set-Cookie") or ():
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return Response(response.status, response.headers, body)

    def get(self, path: str) -> Response:
        self.connection.request("GET", path, headers=self._headers({}))
        return self._finish()

    def csrf_token(self) -> str:
        """Open the entry form, as a visitor does first, and read its CSRF token."""
        page = self.get("/submit")
        assert page.status == 200, page.status
        return _TOKEN.search(page.text).group(1)

    def post_entry(
        self,
        fields: dict[str, str],
        photo: bytes,
        token: str | None = None,
        chunk: int = 0,
        pause: float = 0.0,
    ) -> Response:
        """POST the entry form (multipart) asking for JSON, with the form's CSRF token (fetched
        first unless given); with `chunk`, send the body in pieces of that many bytes, `pause`
        seconds apart, like a phone on slow Wi-Fi."""
        token = token or self.csrf_token()
        body, content_type = multipart({"csrf_token": token, **fields}, photo)
        headers = self._headers(
            {
                "Content-Type": content_type,
                "Content-Length": str(len(body)),
                "Accept": "application/json",
            }
        )
        self.connection.putrequest("POST", "/submit")
        for name, value in headers.items():
            self.connection.putheader(name, value)
        self.connection.endheaders()
        step = chunk or len(body)
        for start in range(0, len(body), step):
            self.connection.send(body[start : start + step])
            if pause:
                time.sleep(pause)
        return self._finish()


def multipart(fields: dict[str, str], photo: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the text fields and the photo as `media`."""
    boundary = f"----contest-{secrets.token_hex(12)}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    body = "".join(parts).encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def visitor_fields(n: int) -> dict[str, str]:
    """The text fields of visitor number `n`: a phone and an e-mail no other visitor uses."""
    return {
        "title": f"방문객 {n}의 사진",
        "name": f"방문객{n}",
        "email": f"visitor{n}@example.com",
        "phone": f"010-{5000 + n // 10000:04d}-{n % 10000:04d}",
        "consent": "y",
        "declaration": "y",
    }


# What the site holds -------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredAsset:
    receipt: str
    entry_sha256: str
    role: str
    key: str
    size: int


def stored_assets(database: str | Path) -> list[StoredAsset]:
    """Every asset row with its entry's receipt and hash, read straight from the database (a
    URL, or the path of a SQLite file such as a backup's)."""
    rows = query(
        database,
        "SELECT e.receipt, e.sha256, a.role, a.key, a.size"
        " FROM asset a JOIN entry e ON e.id = a.entry_id ORDER BY a.id",
    )
    return [StoredAsset(*row) for row in rows]


def receipts(database: str | Path) -> set[str]:
    return {row[0] for row in query(database, "SELECT receipt FROM entry")}


def query(database: str | Path, sql: str, **params) -> list[tuple]:
    """Read a database directly, with :named parameters (a SQLite file is opened read-only)."""
    url = f"sqlite:///file:{database}?mode=ro&uri=true" if isinstance(database, Path) else database
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def files_under(folder: Path) -> Iterator[str]:
    """Every file under a folder, as a relative posix path (temporary files included)."""
    return (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class CuttingProxy:
    """A loopback TCP proxy that closes the connection once the bytes sent upstream (all
    connections together) pass each of `cuts`: a phone losing its network mid-request."""

    def __init__(self, upstream_port: int, cuts: list[int]) -> None:
        self.upstream_port = upstream_port
        self.cuts = sorted(cuts)
        self.sent = 0
        self.done_cuts = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((HOST, self.upstream_port))
            threading.Thread(target=self._up, args=(downstream, upstream), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, downstream), daemon=True).start()

    def _up(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(64 * 1024):
                with self.lock:
                    before = self.sent
                    self.sent += len(data)
                    cut = next((c for c in self.cuts if before < c <= self.sent), None)
                    if cut is not None:
                        self.cuts.remove(cut)
                        self.done_cuts += 1
                if cut is not None:
                    target.sendall(data[: cut - before])
                    break
                target.sendall(data)
        except OSError:
            pass
        _close(source, target)

    def _down(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(64 * 1024):
                target.sendall(data)
        except OSError:
            pass
        _close(source, target)

    def close(self) -> None:
        self.stopping = True
        self.listener.close()


class ThrottlingProxy(CuttingProxy):
    """A loopback TCP proxy that sends upstream at most `rate` bytes a second (answers come
    back at full speed): a slow link to a service, such as an app server's to S3. While the
    `flowing` event is cleared, nothing goes upstream at all (a link that has stalled)."""

    def __init__(self, upstream_port: int, rate: int) -> None:
        self.rate = rate
        self.received = 0  # bytes taken from the clients, sent upstream or held back
        self.flowing = threading.Event()
        self.flowing.set()
        super().__init__(upstream_port, cuts=[])

    def _up(self, source: socket.socket, target: socket.socket) -> None:
        step = max(1, self.rate // 10)  # a tenth of a second's worth at a time
        try:
            while data := source.recv(step):
                with self.lock:
                    self.received += len(data)
                self.flowing.wait()
                target.sendall(data)
                time.sleep(len(data) / self.rate)
        except OSError:
            pass
        _close(source, target)


def _close(*sockets: socket.socket) -> None:
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
