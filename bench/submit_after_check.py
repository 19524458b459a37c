"""Submit to receipt, with and without the background check of the resumable upload done.

The entry page uploads the file while the visitor types; the moment the last byte arrives the
server checks it in the background (`contest.services.upload_checks`), so pressing submit only
has to hash the bytes, store them and add the row. This times `POST /submit` (the form naming
a finished upload, answered with the receipt as JSON) through the Flask test client:

- "check done": the upload's check ran when it completed (huey in immediate mode runs it in
  the PATCH that brings the last byte; that PATCH's time is shown as the check's cost);
- "inline": no check ran (the job is switched off), so submit checks the file itself, as it
  always did before.

For a 12 MP JPEG (4000x3000, made with Pillow) and a 10 s 1080p30 H.264 MP4 with AAC (made
with PyAV), `--runs` of each (default 5), interleaved; medians. The video's playback copy is the
worker's job after the receipt, so it is switched off here. The network is left out: what
the visitor waits for after the tap is this plus one round trip. Each run's entry is
withdrawn afterwards, and each run's file differs (the duplicate check would refuse it).

Run from the project root: .venv/bin/python bench/submit_after_check.py [--runs N]
"""

from __future__ import annotations

import argparse
import functools
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

from bench.video_pipeline import moving_gradient  # noqa: E402
from contest import create_app  # noqa: E402
from contest.core.database import write_transaction  # noqa: E402
from contest.services import entries  # noqa: E402
from tests.media.videogen import write_clip  # noqa: E402
from tests.photos import photo_bytes  # noqa: E402
from tests.test_tus import create, patch  # noqa: E402

CHUNK = 1024 * 1024  # as the entry page's client


def make_video(folder: Path, seed: int) -> bytes:
    """A 10 s 1080p30 clip of a moving gradient (as video_pipeline.py); `seed` changes its
    metadata, so each run's bytes differ."""
    frames = _gradient()
    path = folder / f"clip-{seed}.mp4"
    write_clip(
        path,
        size=(1920, 1080),
        fps=30,
        seconds=10.0,
        picture=lambda i: frames[i % len(frames)],
        gop_seconds=2,
        metadata={"title": f"bench {seed}"},
    )
    return path.read_bytes()


@functools.cache
def _gradient() -> list:
    return moving_gradient()


def upload(client, data: bytes, filetype: str) -> tuple[str, float]:
    """Send the file in 1 MiB pieces; its id and how long the last PATCH took."""
    url = create(client, len(data), filetype).headers["Location"]
    last = 0.0
    for offset in range(0, len(data), CHUNK):
        started = time.perf_counter()
        answer = patch(client, url, offset, data[offset : offset + CHUNK])
        last = time.perf_counter() - started
        assert answer.status_code == 204, answer.data
    return url.rsplit("/", 1)[1], last


def submit(app, client, upload_id: str, n: int) -> float:
    fields = {
        "title": f"벤치 {n}",
        "name": "홍길동",
        "email": f"bench{n}@example.com",
        "phone": f"010-5{n % 1000:03d}-{n % 10000:04d}",
        "consent": "y",
        "declaration": "y",
        "upload": upload_id,
    }
    started = time.perf_counter()
    answer = client.post("/submit", data=fields, headers={"Accept": "application/json"})
    seconds = time.perf_counter() - started
    assert answer.status_code == 201, answer.get_json()
    with app.app_context(), write_transaction():
        entries.withdraw(entries.find_by_receipt(answer.get_json()["receipt"]))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["CONTEST_INSTANCE_PATH"] = f"{tmp}/instance"
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "UPLOAD_FOLDER": f"{tmp}/uploads",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "HUEY_IMMEDIATE": True,
                "MAX_ENTRIES_PER_ENTRANT": 1000,
            }
        )
        result = app.test_cli_runner().invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        tasks = app.extensions["contest.tasks"]
        real_check = tasks["check_upload"]
        # The playback copy is the worker's (minutes, after the receipt): not timed here.
        tasks["make_playback"] = lambda _entry_id: None
        client = app.test_client()
        client.get("/submit")

        kinds = {
            "12 MP JPEG": (
                "image/jpeg",
                lambda n: photo_bytes(size=(4000, 3000), seed=1000 + n, quality=92),
            ),
            "10 s 1080p MP4": ("video/mp4", lambda n: make_video(folder, n)),
        }
        report: dict[str, dict] = {}
        n = 0
        for name, (filetype, make) in kinds.items():
            times: dict[str, list[float]] = {"check done": [], "inline": [], "check": []}
            files = [make(i) for i in range(2 * args.runs + 1)]
            size = len(files[0])
            # One warm-up (the photo decoders' children start on first use).
            tasks["check_upload"] = real_check
            upload_id, _ = upload(client, files.pop(), filetype)
            submit(app, client, upload_id, n := n + 1)
            for _ in range(args.runs):
                for mode in ("check done", "inline"):
                    background = mode == "check done"
                    tasks["check_upload"] = real_check if background else (lambda _id: None)
                    upload_id, last_patch = upload(client, files.pop(), filetype)
                    if background:
                        times["check"].append(last_patch)
                    times[mode].append(submit(app, client, upload_id, n := n + 1))
            tasks["check_upload"] = real_check
            medians = {k: statistics.median(v) for k, v in times.items()}
            report[name] = {
                "bytes": size,
                "median_seconds": {k: round(v, 4) for k, v in medians.items()},
                "runs": {k: [round(x, 4) for x in v] for k, v in times.items()},
            }
            print(
                f"{name} ({size / 1e6:.1f} MB), medians of {args.runs}: submit to receipt"
                f" {medians['inline'] * 1000:.0f} ms inline,"
                f" {medians['check done'] * 1000:.0f} ms with the check done"
                f" ({medians['inline'] / medians['check done']:.1f}x);"
                f" the background check itself {medians['check'] * 1000:.0f} ms"
            )

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"submit-after-check-{stamp}.json"
    out.write_text(json.dumps({"runs": args.runs, "results": report}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
