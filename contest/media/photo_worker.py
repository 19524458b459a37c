"""Photo decoding in child processes capped in time and memory, within one server's memory budget.

Why children: nothing can stop Pillow, libjpeg or libheif in the middle of a decode from inside
the process, so the only hard bound on time is a process that can be killed, and the only hard
bound on memory one whose allocations fail past a limit (RLIMIT_DATA) without touching the web
worker. The children are kept and reused (a "pre-forked" pool started on first use), so a photo
pays a pipe round trip (about a millisecond), not an interpreter start: the normal path stays as
fast as in-process decoding. A child is started with `subprocess` (fork+exec), never a bare
fork of the threaded web worker, and answers in JSON plus raw JPEG bytes: the parent never
unpickles what a child that decoded hostile bytes says.

Before a child is used, the decode's estimated memory (`decode_cost.estimate`) is reserved in
the server's budget (`PHOTO_DECODE_MEMORY_BYTES`): a ledger file under an exclusive lock, shared
by every worker process of the server, so the decodes running at once on one server never hold
more than the budget; the child is capped at its reservation. A decode waits for room at most
its timeout, then the visitor is asked to try again (503).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import resource
import secrets
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from contest.media import Rejected

TOO_COSTLY_MESSAGE = _l(
    "이 사진 파일은 처리하는 데 시간이나 메모리가 지나치게 많이 들어 받을 수 없습니다."
    " 휴대전화 카메라로 찍은 원본 사진(JPG, HEIC)을 올려 주세요."
)
BUSY_MESSAGE = _l("지금 사진을 올리는 분이 많아 처리하지 못했습니다. 잠시 뒤 다시 제출해 주세요.")

# A child whose resident size has grown this far past its start after a job leaves, and a
# fresh one takes its place: freed pixel memory is not always returned to the system.
RECYCLE_GROWTH_BYTES = 128 * 1024**2
# Children kept waiting for work in each web worker process; more start when needed.
MAX_IDLE = 2
_ROOT = Path(__file__).resolve().parents[2]
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from contest.media.photo_worker import serve; serve()"
)


@dataclass(frozen=True)
class DecodeLimits:
    """How much memory the photo decodes of one server may hold at once, and for how long.

    `ledger` is the file that counts the reservations of every process of the server (in the
    instance folder); None counts within this process only (scripts, benchmarks, unit tests).
    """

    budget_bytes: int = 1024**3
    timeout: float = 20.0
    ledger: Path | None = None


def limits_from(config: Mapping[str, Any], instance_path: str | Path) -> DecodeLimits:
    """The app's limits: its settings, counted in a ledger in its instance folder."""
    # The instance folder is each server's own (the upload folder may be a shared bucket).
    return DecodeLimits(
        budget_bytes=int(config["PHOTO_DECODE_MEMORY_BYTES"]),
        timeout=float(config["PHOTO_DECODE_TIMEOUT"]),
        ledger=Path(instance_path) / "photo-decode-budget",
    )


class _Refused(Exception):
    """The child's answer was a refusal (a reason code) or it died or ran out of time."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode(job: dict[str, Any], cost: int, limits: DecodeLimits) -> tuple[dict[str, Any], list]:
    """Run one decode job in a capped child within the budget: (facts, blobs), or _Refused.

    The reasons: "damaged", "too_large" (Pillow's own pixel cap), "memory" (the cap was hit),
    "timeout" (the child was killed) or "crashed" (the child died).
    """
    # One photo may take half the budget at most: one file alone cannot hold up the others.
    if cost > limits.budget_bytes // 2:
        raise _Refused("memory")
    deadline = time.monotonic() + limits.timeout
    with _reservation(cost, limits, deadline):
        remaining = max(0.1, deadline - time.monotonic())
        job = {
            **job,
            "memory_bytes": cost,
            "cpu_seconds": int(remaining) + 2,
            "recycle_growth_bytes": RECYCLE_GROWTH_BYTES,
        }
        worker = _checkout()
        try:
            header, blobs = worker.run(job, remaining)
        except BaseException:
            worker.kill()
            raise
        _checkin(worker)
    if "refused" in header:
        raise _Refused(str(header["refused"]))
    return header, blobs


def refusal(reason: str) -> Rejected | None:
    """The visitor's refusal for a child's reason that is about cost; None for the others."""
    if reason in ("memory", "timeout"):
        return Rejected(TOO_COSTLY_MESSAGE, 422)
    if reason == "busy":
        return Rejected(BUSY_MESSAGE, 503)
    return None


# The budget


@contextmanager
def _reservation(cost: int, limits: DecodeLimits, deadline: float):
    if limits.ledger is None:
        with _local_reservation(cost, limits.budget_bytes, deadline):
            yield
        return
    token = _reserve(limits.ledger, cost, limits.budget_bytes, deadline)
    try:
        yield
    finally:
        _release(limits.ledger, token)


_local_used = 0
_local_room = threading.Condition()


@contextmanager
def _local_reservation(cost: int, budget: int, deadline: float):
    global _local_used
    with _local_room:
        while _local_used + cost > budget:
            if not _local_room.wait(deadline - time.monotonic()):
                raise _Refused("busy")
        _local_used += cost
    try:
        yield
    finally:
        with _local_room:
            _local_used -= cost
            _local_room.notify_all()


def _reserve(ledger: Path, cost: int, budget: int, deadline: float) -> str:
    """Add a line "pid token bytes" to the ledger once the live lines leave room for it."""
    token = f"{os.getpid()} {secrets.token_hex(6)} {cost}"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with open(ledger, "a+", encoding="ascii") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            # Reservations of processes that died (a killed web worker) free themselves.
            live = [line for line in fh.read().splitlines() if _alive(line)]
            if sum(int(line.split()[2]) for line in live) + cost <= budget:
                fh.seek(0)
                fh.truncate()
                fh.write("".join(f"{line}\n" for line in [*live, token]))
                return token
        if time.monotonic() >= deadline:
            raise _Refused("busy")
        time.sleep(0.05)


def _release(ledger: Path, token: str) -> None:
    with open(ledger, "a+", encoding="ascii") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        live = [line for line in fh.read().splitlines() if line != token and _alive(line)]
        fh.seek(0)
        fh.truncate()
        fh.write("".join(f"{line}\n" for line in live))


def _alive(line: str) -> bool:
    try:
        pid = int(line.split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


# The children, seen from the web worker


class _Worker:
    """One child process and its pipes."""

    # Set when the child's last answer said it leaves after it (grown too large): such a
    # child must never go back to the pool, or the next job would meet a closing pipe.
    leaving = False

    def __init__(self) -> None:
        # -I: no PYTHON* variables, no user site; cwd "/" so nothing resolves to the uploads.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )
        self.owner = os.getpid()

    def run(self, job: dict[str, Any], timeout: float) -> tuple[dict[str, Any], list[bytes]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(job).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as why:
            raise _Refused("crashed") from why
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        buffer = bytearray()
        header: dict[str, Any] | None = None
        needed = -1
        while header is None or len(buffer) < needed:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _Refused("timeout")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                # The child died: a signal (the CPU limit), a crash, or an allocation that
                # the cap refused somewhere that could not report it.
                raise _Refused("crashed")
            buffer += chunk
            if header is None and b"\n" in buffer:
                line, _, rest = bytes(buffer).partition(b"\n")
                header = json.loads(line)
                buffer = bytearray(rest)
                needed = sum(header.get("lengths", []))
        self.leaving = bool(header.pop("leaving", False))
        blobs, offset = [], 0
        for length in header.get("lengths", []):
            blobs.append(bytes(buffer[offset : offset + length]))
            offset += length
        return header, blobs

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def close(self) -> None:
        """Ask the child to leave (end of its input), then make sure it has."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def _checkout() -> _Worker:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            # A web worker forked from a process that had children must not share their pipes.
            if worker.owner == os.getpid() and worker.alive():
                return worker
    return _Worker()


def _checkin(worker: _Worker) -> None:
    with _idle_lock:
        if worker.alive() and not worker.leaving and len(_idle) < MAX_IDLE:
            _idle.append(worker)
            return
    worker.close()


@atexit.register
def _close_idle() -> None:
    with _idle_lock:
        workers = [w for w in _idle if w.owner == os.getpid()]
        _idle.clear()
    for worker in workers:
        worker.close()


# The child's side


def serve() -> None:
    """The child: read one JSON job per line, answer a JSON line and the blobs it lists."""
    # The protocol gets its own descriptor; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    from contest.media import photo, provenance  # the pipeline's imports, once per child

    handlers = {"provenance": provenance.run_job}  # every other op is the photo pipeline's

    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # reads the upload, writes nothing
    start = _status_bytes("VmRSS")
    for line in sys.stdin.buffer:
        job = json.loads(line)
        with _capped(job["memory_bytes"], job["cpu_seconds"]):
            try:
                header, blobs = handlers.get(job["op"], photo.run_job)(job)
            except MemoryError:
                header, blobs = {"refused": "memory"}, []
        header["lengths"] = [len(blob) for blob in blobs]
        # Decided before answering, and said in the answer, so the parent knows at once not
        # to hand this child another job (it would find the pipe closing under it).
        growth = job.get("recycle_growth_bytes", RECYCLE_GROWTH_BYTES)
        header["leaving"] = _status_bytes("VmRSS") - start > growth
        out.write(json.dumps(header).encode() + b"\n")
        for blob in blobs:
            out.write(blob)
        out.flush()
        if header["leaving"]:
            break


@contextmanager
def _capped(memory_bytes: int, cpu_seconds: int):
    """Cap the data segment at what it holds now plus the reservation, and the CPU time."""
    data_limits = resource.getrlimit(resource.RLIMIT_DATA)
    cpu_limits = resource.getrlimit(resource.RLIMIT_CPU)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used_cpu = int(usage.ru_utime + usage.ru_stime) + 1
    resource.setrlimit(
        resource.RLIMIT_DATA, (_status_bytes("VmData") + memory_bytes, data_limits[1])
    )
    resource.setrlimit(resource.RLIMIT_CPU, (used_cpu + cpu_seconds, cpu_limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, data_limits)
        resource.setrlimit(resource.RLIMIT_CPU, cpu_limits)


def _status_bytes(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0
