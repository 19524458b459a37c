"""A 200 MB resumable upload through a connection cut every 20 MB, against an uncut one.

Serves the site as `make run` does (nginx in front of gunicorn, server/gunicorn_conf.py) on a
loopback port, and sends the file with tuspy (a third-party tus client) in 1 MiB chunks, the
chunk size of the entry page's own client, through a loopback proxy that closes the connection
each time another 20 MB have gone through it. Reports, as medians of the runs:

- bytes sent through the proxy divided by the file's size (goal <= 1.05: a cut costs at most
  the chunk in flight, never the upload so far);
- the time of the cut upload against the uncut one, measured in the same run;
- how much a 400 MB upload in 5 MiB chunks grows the gunicorn workers' peak resident size
  (VmHWM, the largest growth of any worker; goal < 64 MB, as the one-POST path).

Run from the project root: .venv/bin/python bench/resumable_upload.py [--runs N] [--mb M]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tusclient import client as tus_client  # noqa: E402

from tests import databases  # noqa: E402
from tests.server_helpers import (  # noqa: E402
    HOST,
    CuttingProxy,
    Server,
    Visitor,
    become_subreaper,
    flask,
    site_env,
    stop_being_subreaper,
)

MIB = 1024 * 1024
CHUNK = MIB  # as contest/static/js/submit.js
GOAL_RATIO = 1.05


MEMORY_GOAL_MB = 64


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def make_file(path: Path, mb: int) -> None:
    with open(path, "wb") as out:
        for _ in range(mb):
            out.write(os.urandom(1000 * 1000))


def upload(port: int, source: Path, cut_every: int | None, chunk: int = CHUNK) -> tuple[float, int]:
    """Send the file through a proxy (cutting every `cut_every` bytes, or never): the seconds
    it took and the bytes that went through the proxy."""
    size = source.stat().st_size
    cuts = list(range(cut_every, size, cut_every)) if cut_every else []
    with Visitor(port) as visitor:
        token = visitor.csrf_token()
        cookie = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
    proxy = CuttingProxy(port, cuts)
    try:
        client = tus_client.TusClient(
            f"http://{HOST}:{proxy.port}/uploads",
            headers={"Cookie": cookie, "X-CSRFToken": token},
        )
        with open(source, "rb") as stream:
            uploader = client.uploader(
                file_stream=stream,
                chunk_size=chunk,
                metadata={"filename": "clip.mp4", "filetype": "video/mp4"},
                retries=50,
                retry_delay=0,
                store_url=False,
            )
            started = time.perf_counter()
            uploader.upload()
            seconds = time.perf_counter() - started
        assert uploader.offset == size, (uploader.offset, size)
        assert not cuts or proxy.done_cuts == len(cuts), (proxy.done_cuts, len(cuts))
        return seconds, proxy.sent
    finally:
        proxy.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=200, help="file size in MB")
    parser.add_argument("--cut-mb", type=int, default=20, help="cut the connection every N MB")
    parser.add_argument("--memory-mb", type=int, default=400, help="the memory run's file, MB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="resumable-bench-") as tmp:
        root = Path(tmp)
        source = root / "clip.bin"
        make_file(source, args.mb)
        size = source.stat().st_size
        env = site_env(root)
        # The bench sends many uploads from one address: lift the submission rate limit.
        env["CONTEST_SUBMIT_RATE_LIMIT"] = "10000/minute"
        init = flask(env, "init-db")
        assert init.returncode == 0, init.stdout + init.stderr
        adopting = become_subreaper()
        server = Server(env, root / "gunicorn.log")
        ratios, plain_s, cut_s = [], [], []
        try:
            server.start()
            for _ in range(args.runs):  # interleaved, so both see the same machine
                seconds, _sent = upload(server.port, source, None)
                plain_s.append(seconds)
                seconds, sent = upload(server.port, source, args.cut_mb * 1000 * 1000)
                cut_s.append(seconds)
                ratios.append(sent / size)
            # Memory: a big upload in 5 MiB chunks, once the workers are warm (above).
            source.unlink()
            big = root / "big.bin"
            make_file(big, args.memory_mb)
            before = {pid: peak_kib(pid) for pid in server.workers()}
            upload(server.port, big, None, chunk=5 * MIB)
            after = {pid: peak_kib(pid) for pid in before}
            growth_mb = max(after[pid] - kib for pid, kib in before.items()) / 1024
            peak_mb = max(after.values()) / 1024
        finally:
            server.stop()
            if adopting:
                stop_being_subreaper()
            databases.drop_site(root)
    result = {
        "file_mb": args.mb,
        "cut_every_mb": args.cut_mb,
        "chunk_mib": CHUNK // MIB,
        "runs": args.runs,
        "bytes_sent_over_size_median": round(statistics.median(ratios), 4),
        "uncut_seconds_median": round(statistics.median(plain_s), 2),
        "cut_seconds_median": round(statistics.median(cut_s), 2),
        "cut_over_uncut_time": round(statistics.median(cut_s) / statistics.median(plain_s), 2),
        "memory_upload_mb": args.memory_mb,
        "worker_peak_growth_mb": round(growth_mb, 1),
        "worker_peak_mb": round(peak_mb, 1),
    }
    print(json.dumps(result, indent=2))
    ratio = result["bytes_sent_over_size_median"]
    verdict = "PASS" if ratio <= GOAL_RATIO else "FAIL"
    print(f"{verdict}  bytes sent / file size <= {GOAL_RATIO}: {ratio}")
    verdict = "PASS" if growth_mb < MEMORY_GOAL_MB else "FAIL"
    print(
        f"{verdict}  worker peak growth, {args.memory_mb} MB upload < {MEMORY_GOAL_MB} MB:"
        f" {growth_mb:.1f} (peak {peak_mb:.0f} MB)"
    )
    out = ROOT / "bench" / "results" / f"resumable-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
