"""A 400 MB upload through a real server must not grow its memory by more than 64 MB.

Starts gunicorn on loopback (one worker, so the worker's peak is the request's), streams a
multipart body from a generator (the client never holds it either), and reads the worker's peak
resident size (VmHWM) before and after. A 1 MB upload measured the same way is the baseline.
Run from the project root: .venv/bin/python bench/upload_memory.py
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MB = 64
CHUNK = b"\0" * (1024 * 1024)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def stream_upload(port: int, megabytes: int) -> int:
    """POST an entry whose file is `megabytes` MB, generated on the fly; returns the status."""
    boundary = "benchboundary7MA4YWxkTrZu0gW"
    fields = {
        "title": "bench",
        "name": "n",
        "email": "b@example.com",
        "phone": "010-1234-5678",
        "consent": "y",
        "declaration": "y",
    }
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ).encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; '
        'filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + megabytes * len(CHUNK) + len(tail)

    def body():
        yield head
        for _ in range(megabytes):
            yield CHUNK
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        "/submit",
        body=body(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(length),
            "Accept": "application/json",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "CONTEST_INSTANCE_PATH": f"{tmp}/instance",
            "CONTEST_UPLOAD_FOLDER": f"{tmp}/uploads",
            "CONTEST_WTF_CSRF_ENABLED": "false",
        }
        venv = ROOT / ".venv" / "bin"
        subprocess.run(
            [venv / "flask", "--app", "wsgi", "init-db"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [
                venv / "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--timeout",
                "600",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            worker = worker_pid(server.pid)
            stream_upload(port, 1)  # warm up: the first request imports the media libraries
            rows = []
            for megabytes in (1, 400):
                before = peak_kib(worker)
                started = time.perf_counter()
                status = stream_upload(port, megabytes)
                seconds = time.perf_counter() - started
                growth = (peak_kib(worker) - before) / 1024
                rows.append(
                    {
                        "upload_mb": megabytes,
                        "status": status,
                        "seconds": round(seconds, 2),
                        "peak_growth_mb": round(growth, 1),
                    }
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    print(f"{'upload':>8} {'status':>7} {'seconds':>8} {'peak growth':>12}")
    for row in rows:
        print(
            f"{row['upload_mb']:>6} MB {row['status']:>7} {row['seconds']:>8} "
            f"{row['peak_growth_mb']:>9} MB"
        )
    big = rows[-1]["peak_growth_mb"]
    verdict = "PASS" if big <= TARGET_MB else "FAIL"
    print(
        f"{verdict}: a 400 MB upload grows the server's peak memory by {big} MB "
        f"(target <= {TARGET_MB} MB)"
    )
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"upload-{stamp}.json").write_text(json.dumps({"rows": rows, "verdict": verdict}))


if __name__ == "__main__":
    sys.exit(main())
