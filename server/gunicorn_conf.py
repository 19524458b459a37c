"""gunicorn's settings for `make run`, and nginx in front of it:
`gunicorn -c server/gunicorn_conf.py wsgi:app` (PORT, default 5000). The tests and the load bench
start the server with this same file.

Why nginx: gunicorn's gthread workers give each request a thread for as long as its body takes
to arrive, so 30 phones trickling uploads in over venue Wi-Fi held every thread and the landing
page stopped answering. nginx reads bodies whole (spilling to disk past 128 KiB) before it hands
the request over a Unix socket to gunicorn, so a thread only ever sees a request that is all
there. nginx listens on 127.0.0.1:PORT; gunicorn listens only on that socket. Debian's nginx is
installed by `make run` (Makefile); `NGINX` names another binary.
"""

import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("CONTEST_INSTANCE_PATH") or ROOT / "instance")
PORT = int(os.environ.get("PORT", "5000"))
NGINX = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"

# A short private folder for the socket (a Unix socket path may not exceed 107 bytes).
SOCKET_DIR = Path(tempfile.mkdtemp(prefix="contest-gunicorn-"))
SOCKET = SOCKET_DIR / "gunicorn.sock"

bind = [f"unix:{SOCKET}"]
# gthread workers: the app's work (photo pipeline, pages) on 2 processes × 4 threads.
workers = 2
threads = 4
worker_class = "gthread"
# The master imports the app once and forks the workers from it: a worker starts, or replaces
# one that died or timed out, at once instead of after 1.6 s of importing, and the workers share
# the imported code's memory. Starting a server (nginx, master, 2 workers) took 4.3 s of CPU
# with each worker importing the app, 2.8 s with this.
# create_app opens no database connection and starts no thread (checked by
# tests/test_server.py), so nothing the workers inherit is shared between them; post_fork
# below drops the pool's connections all the same, as SQLAlchemy advises for forked processes.
# gunicorn reseeds `random` in each worker.
preload_app = True
timeout = 120
keepalive = 30  # nginx keeps its connections to gunicorn open (upstream keepalive)
accesslog = "-"
# The visitor's address comes from nginx (X-Real-IP); every line passes through logmask.
access_log_format = '%({x-real-ip}i)s - - %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
logger_class = "server.logmask.MaskingLogger"

# The app trusts nginx's X-Forwarded-* (one hop); behind another proxy set this to 2.
os.environ.setdefault("CONTEST_PROXY_FIX_HOPS", "1")


def _max_body() -> int:
    """The app's MAX_CONTENT_LENGTH, worked out as create_app does, without importing the app."""
    defaults = runpy.run_path(str(ROOT / "contest" / "config.py"))

    def setting(name: str) -> int | None:
        value = os.environ.get(f"CONTEST_{name}") or defaults.get(name)
        return int(value) if value else None

    return setting("MAX_CONTENT_LENGTH") or (
        max(setting("PHOTO_MAX_BYTES"), setting("VIDEO_MAX_BYTES")) + 1024 * 1024
    )


def _nginx_conf(prefix: Path) -> Path:
    # Run as root (CI, containers), nginx would hand its workers to `nobody`, who cannot
    # reach the socket or the temporary folders: keep them as the user who ran `make run`.
    user = "user root;" if os.geteuid() == 0 else ""
    text = (ROOT / "server" / "nginx.conf.in").read_text()
    for name, value in {
        "@USER@": user,
        "@PREFIX@": str(prefix),
        "@SOCKET@": str(SOCKET),
        "@LISTEN@": f"127.0.0.1:{PORT}",
        "@MAX_BODY@": str(_max_body()),
    }.items():
        text = text.replace(name, value)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


_children: dict[str, subprocess.Popen] = {}


def on_starting(server) -> None:
    """Start nginx (its error log masked) before gunicorn binds; fail if it cannot listen."""
    prefix = INSTANCE / "nginx"
    prefix.mkdir(mode=0o700, parents=True, exist_ok=True)
    # nginx unlinks its temporary files as soon as it opens them: a crash leaves none behind.
    (prefix / "nginx.pid").unlink(missing_ok=True)
    conf = _nginx_conf(prefix)
    nginx = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(conf), "-e", "stderr"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    masker = subprocess.Popen(
        [sys.executable, "-m", "server.logmask", "--stop", str(os.getpid())],
        cwd=ROOT,
        stdin=nginx.stderr,
    )
    nginx.stderr.close()  # the masker's end only: its input ends when nginx does
    _children.update(nginx=nginx, masker=masker)
    deadline = time.monotonic() + 10
    while not (prefix / "nginx.pid").exists():
        if nginx.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nginx did not start ({NGINX}, {conf}); see its message above")
        time.sleep(0.02)
    server.log.info("nginx listening on http://127.0.0.1:%s, gunicorn on %s", PORT, SOCKET)


def on_exit(server) -> None:
    """Stop nginx once gunicorn has stopped, and remove the socket's folder."""
    nginx, masker = _children.get("nginx"), _children.get("masker")
    if nginx is not None and nginx.poll() is None:
        nginx.send_signal(signal.SIGQUIT)  # graceful: finish the answers under way
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()
    if masker is not None:
        try:
            masker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            masker.kill()
    shutil.rmtree(SOCKET_DIR, ignore_errors=True)


def post_fork(server, worker) -> None:
    """A forked worker opens database connections of its own, never its parent's."""
    from contest.core.extensions import db

    with server.app.wsgi().app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def post_worker_init(worker) -> None:
    """A graceful stop (SIGTERM: a restart, `systemctl stop`) ends the walls' event streams at
    once; gunicorn then waits only for the requests under way, not for walls still watching."""
    from contest.core import wall_stream

    begin_graceful_stop = worker.handle_exit

    def handle_exit(sig, frame) -> None:
        wall_stream.end_all_streams()
        begin_graceful_stop(sig, frame)

    signal.signal(signal.SIGTERM, handle_exit)
