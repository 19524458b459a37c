"""Concurrent visitors against the real server: uploads, the landing page and a receipt page.

Starts the server as `make run` does (server/gunicorn_conf.py: nginx on the loopback in front
of 2 gthread gunicorn workers of 4 threads; through tests/server_helpers.py), CSRF on, the
submit rate limit and the per-entrant cap raised so that only the server's capacity is
measured. For N = 10, 50, 100 concurrent clients (each its own connection and cookie jar),
every client uploads --uploads distinct ~5 MB 12 MP JPEGs the way a browser does (GET /submit
for the CSRF token, then the multipart POST asking for JSON), then requests / and a receipt
page --pages times each. Reports accepted uploads per second, p50/p95/p99 latency, errors
(anything but 201 for an upload or 200 for a page, and any exception) and the server's peak
memory (VmHWM of gunicorn's master and each worker, reset before each phase; nginx's apart).
The photos are made before any timing.
Prints a table, writes bench/results/load-<UTC>.json and always exits 0.
Run from the project root: .venv/bin/python bench/load.py [--clients 10,50,100] [--uploads 3]

The site runs on SQLite with its local queue and in-memory rate limits. Run inside
tests/services/with-postgres-and-redis.sh (as `make bench` does a second time) and the same
load goes to PostgreSQL, with the queue and rate limits on Redis; that run's file is
bench/results/load-postgresql-<UTC>.json.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests import databases  # noqa: E402
from tests.photos import photo_image  # noqa: E402
from tests.server_helpers import Server, Visitor, flask, site_env, visitor_fields  # noqa: E402

SIZE = (4032, 3024)  # 12 MP, as a phone camera
BASES = 4  # distinct pictures; each upload adds its own JPEG comment so its SHA-256 differs


def camera_jpeg(seed: int) -> bytes:
    """A 12 MP camera-like JPEG of about 5 MB with EXIF (make, model, orientation)."""
    image = photo_image(SIZE, seed)
    # Fine detail, as a real photo has, so the JPEG weighs what a phone's does.
    rng = random.Random(seed)
    grain = Image.effect_noise(SIZE, 20 + rng.random() * 2).convert("RGB")
    image = Image.blend(image, grain, 0.25)
    exif = Image.Exif()
    exif[0x010F] = "BenchPhone"  # Make
    exif[0x0110] = "BenchPhone 12"  # Model
    exif[0x0112] = 1  # Orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment right after SOI: same pixels, another SHA-256."""
    payload = text.encode()
    segment = b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def proc_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peaks(pids: list[int]) -> None:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def peaks_mb(server: Server) -> dict:
    master = server.process.pid
    workers = sorted(server.workers())
    per = {str(pid): round((proc_kib(pid, "VmHWM") or 0) / 1024, 1) for pid in [master, *workers]}
    return {
        "master_mb": per[str(master)],
        "workers_mb": [per[str(pid)] for pid in workers],
        "sum_mb": round(sum(per.values()), 1),
        # nginx in front (master, worker) and its log filter, beside gunicorn's sum
        "proxy_mb": round(sum((proc_kib(pid, "VmHWM") or 0) for pid in server.proxy()) / 1024, 1),
    }


def run_clients(count: int, work) -> tuple[list[float], list[str], float]:
    """Run `work(client_index, latencies, errors)` in `count` threads started together."""
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(count + 1)

    def target(index: int) -> None:
        try:
            barrier.wait()
            work(index, latencies, errors)
        except Exception as exc:  # noqa: BLE001 - every failure is counted
            errors.append(f"client {index}: {exc!r}")

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - started


def summary(latencies: list[float], errors: list[str], seconds: float, ok: int) -> dict:
    return {
        "requests": len(latencies) + len(errors),
        "ok": ok,
        "errors": len(errors),
        "error_samples": errors[:5],
        "wall_s": round(seconds, 2),
        "per_second": round(ok / seconds, 2) if seconds else None,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
    }


def upload_phase(server: Server, clients: int, photos: list[bytes], first: int, per: int):
    receipts: list[str] = []
    ok = [0]
    lock = threading.Lock()

    def work(index: int, latencies: list[float], errors: list[str]) -> None:
        with Visitor(server.port) as visitor:
            for k in range(per):
                n = first + index * per + k
                started = time.perf_counter()
                try:
                    response = visitor.post_entry(visitor_fields(n), photos[n - first])
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"upload {n}: {exc!r}")
                    visitor.close()
                    visitor.connection = Visitor(server.port).connection
                    continue
                elapsed = time.perf_counter() - started  # the token GET and the POST
                if response.status != 201:
                    errors.append(f"upload {n}: {response.status} {response.text[:200]}")
                    continue
                latencies.append(elapsed)
                with lock:
                    ok[0] += 1
                    receipts.append(json.loads(response.body)["receipt"])

    latencies, errors, seconds = run_clients(clients, work)
    return summary(latencies, errors, seconds, ok[0]), receipts


def page_phase(server: Server, clients: int, path: str, per: int) -> dict:
    ok = [0]
    lock = threading.Lock()

    def work(index: int, latencies: list[float], errors: list[str]) -> None:
        with Visitor(server.port) as visitor:
            for _ in range(per):
                started = time.perf_counter()
                try:
                    response = visitor.get(path)
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"GET {path}: {exc!r}")
                    visitor.close()
                    visitor.connection = Visitor(server.port).connection
                    continue
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    errors.append(f"GET {path}: {response.status}")
                    continue
                latencies.append(elapsed)
                with lock:
                    ok[0] += 1

    latencies, errors, seconds = run_clients(clients, work)
    return summary(latencies, errors, seconds, ok[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10,50,100", help="comma-separated N")
    parser.add_argument("--uploads", type=int, default=3, help="uploads per client")
    parser.add_argument("--pages", type=int, default=10, help="page requests per client")
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]
    total = sum(levels) * args.uploads

    started = time.perf_counter()
    bases = [camera_jpeg(seed) for seed in range(BASES)]
    made_s = time.perf_counter() - started
    mean_mb = statistics.fmean(len(p) for p in bases) / 1e6
    print(
        f"Made {BASES} {SIZE[0]}x{SIZE[1]} camera-like JPEGs (mean {mean_mb:.2f} MB) in"
        f" {made_s:.1f} s; each of the {total} uploads gets its own copy with a unique comment."
    )

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = site_env(root)
        env.update(
            CONTEST_SUBMIT_RATE_LIMIT="100000 per minute",
            CONTEST_MAX_ENTRIES_PER_ENTRANT="1000000",
        )
        result = flask(env, "init-db")
        assert result.returncode == 0, result.stderr
        server = Server(env, root / "gunicorn.log").start()
        try:
            # Warm up both workers (the first upload imports the media libraries).
            warm = [with_comment(bases[0], f"warm-up {n}") for n in range(4)]
            for n, photo in enumerate(warm):
                with Visitor(server.port) as visitor:
                    response = visitor.post_entry(visitor_fields(900_000 + n), photo)
                    assert response.status == 201, (response.status, response.text[:300])
            first = 0
            for clients in levels:
                pids = [server.process.pid, *server.workers(), *server.proxy()]
                reset_peaks(pids)
                # This phase's distinct photos, made before its timing starts.
                photos = [
                    with_comment(bases[n % BASES], f"bench upload {n}")
                    for n in range(first, first + clients * args.uploads)
                ]
                uploads, receipts = upload_phase(server, clients, photos, first, args.uploads)
                del photos
                memory = peaks_mb(server)
                first += clients * args.uploads
                receipt = receipts[0] if receipts else "XXXXXXXXXX"
                reset_peaks(pids)
                landing = page_phase(server, clients, "/", args.pages)
                receipt_page = page_phase(server, clients, f"/receipt/{receipt}", args.pages)
                page_memory = peaks_mb(server)
                for what, measured, mem in (
                    ("upload (GET /submit + POST)", uploads, memory),
                    ("GET /", landing, page_memory),
                    ("GET /receipt/<code>", receipt_page, page_memory),
                ):
                    rows.append({"clients": clients, "what": what, **measured, "memory": mem})
                print(f"  N={clients}: {uploads['ok']} uploads in {uploads['wall_s']} s")
        finally:
            server.stop()
            databases.drop_site(root)
        log_tail = (root / "gunicorn.log").read_text()[-2000:]
        backend = _backend(env)

    print(f"\nDatabase {backend['database']}, queue {backend['queue']}, limits {backend['limits']}")
    print(
        f"{'N':>4} {'request':<28} {'ok':>5} {'err':>4} {'per s':>8} {'p50 ms':>8}"
        f" {'p95 ms':>8} {'p99 ms':>8} {'peak MB (sum; workers)':>26}"
    )
    for row in rows:
        mem = row["memory"]
        workers = "/".join(f"{w:.0f}" for w in mem["workers_mb"])
        print(
            f"{row['clients']:>4} {row['what']:<28} {row['ok']:>5} {row['errors']:>4}"
            f" {row['per_second']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['p99_ms']:>8}"
            f" {mem['sum_mb']:>10.0f} ({workers})"
        )
    errors = sum(row["errors"] for row in rows)
    print(f"{'PASS' if errors == 0 else 'FAIL'}: {errors} errors in all")
    for row in rows:
        for sample in row["error_samples"]:
            print("  ", sample)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    engine = "" if backend["database"] == "sqlite" else f"{backend['database']}-"
    out = results / f"load-{engine}{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "photos": {"count": total, "size": SIZE, "mean_mb": round(mean_mb, 2)},
                "uploads_per_client": args.uploads,
                "pages_per_client": args.pages,
                "server": "nginx + gunicorn (server/gunicorn_conf.py, as make run)",
                "backend": backend,
                "rows": rows,
                "errors": errors,
                "gunicorn_log_tail": log_tail if errors else None,
            },
            indent=2,
        )
    )
    print(f"\nWrote {out.relative_to(ROOT)}")
    return 0


def _backend(env: dict[str, str]) -> dict[str, str]:
    """Which services the site ran on: the database engine, the queue and the rate limits."""
    database = env["CONTEST_SQLALCHEMY_DATABASE_URI"].split(":", 1)[0].split("+", 1)[0]
    queue = "redis" if env.get("CONTEST_HUEY_URL", "").startswith("redis") else "sqlite"
    limits = env.get("CONTEST_RATELIMIT_STORAGE_URI", "memory://").split(":", 1)[0]
    return {"database": database, "queue": queue, "limits": limits}


if __name__ == "__main__":
    sys.exit(main())
