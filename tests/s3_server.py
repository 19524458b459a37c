"""A real S3-compatible server on loopback for the tests: moto's server mode, in a child process.

A child process rather than moto's in-process thread: the server keeps objects in its own
memory, and the tests that measure our memory (tracemalloc) must not count the server's.
Run as `python -m tests.s3_server`, it prints the port it listens on, then serves until its
standard input closes (so it ends with the test session, even one killed halfway).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HOST = "127.0.0.1"


class S3Server:
    """moto's S3 server in a child process; `url` is its endpoint once `start` returned."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.s3_server"],
            cwd=Path(__file__).parents[1],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the S3 test server did not start: {line!r}")
        self.url = f"http://{HOST}:{int(line)}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=10)
            self.process.stdout.close()
            self.process = None


def _serve() -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()  # until the parent closes it, or dies
    server.stop()


if __name__ == "__main__":
    _serve()
