"""How the judge's and the organisers' pages grow with the number of entries: 1k, 10k, 100k.

For each size, builds a fresh SQLite database (`init-db`, then bulk inserts: entries without
files, their preview and thumbnail asset rows pointing at keys that do not exist, since every
timed page only links to them; 20 judges; scores for a fraction of the entries in the open
round; awards proposed from that leaderboard), then times, as the median of --runs requests
after one warm-up, through the Flask test client signed in as a judge or an admin:

- GET /judge/next, GET /judge (the judge's progress), GET /admin (the dashboard),
  GET /admin/leaderboard, GET /admin/entries (first page),
  GET /admin/entries?q=... (a search), GET /admin/export/winners.csv and
  GET /admin/export/entries.csv;
- POST /submit of a 1600x1200 photo by a new visitor, and the part of it spent holding the
  write lock (from `begin_write` to the commit), which every server's uploads take in turn.

It prints each time and its growth from one size to the next (x10 entries each step: a ratio
near 1 is flat, near 10 is linear), with the slowest SQL statement of each request (captured
with SQLAlchemy events) and its `EXPLAIN QUERY PLAN`. Then, in the same database, it creates
candidate indexes ad hoc (`INDEXES`; no migration) and times the affected pages again.
Writes bench/results/growth-<UTC>.json and always exits 0.
Run from the project root: .venv/bin/python bench/growth.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fill import add_entries, add_staff, score_row  # noqa: E402
from sqlalchemy import event, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from contest import create_app  # noqa: E402
from contest.core.extensions import db  # noqa: E402
from contest.models import Category, Contest, Round, Score, User, utcnow  # noqa: E402
from contest.services import awards, entries, queue_counts  # noqa: E402
from tests.photos import photo_image  # noqa: E402

PASSWORD = "bench password 123"
SCORED_FRACTION = 0.2  # entries with scores; the rest wait for judges
SCORES_PER_SCORED = 4  # above the quorum of 3, so they rank
SEARCH = "응모자123"  # an entrant name part: 1 match at 1k, 11 at 10k, 111 at 100k
PAGES = {
    "judge_next": ("judge", "/judge/next", 303),
    "judge_home": ("judge", "/judge", 200),
    "dashboard": ("admin", "/admin", 200),
    "leaderboard": ("admin", "/admin/leaderboard", 200),
    "entries_page1": ("admin", "/admin/entries", 200),
    "entries_search": ("admin", f"/admin/entries?q={SEARCH}", 200),
    "winners_csv": ("admin", "/admin/export/winners.csv", 200),
    "entries_csv": ("admin", "/admin/export/entries.csv", 200),
    "submit": ("visitor", "POST /submit (1600x1200 photo)", 201),
    "submit_lock": ("visitor", "  of it in the write lock", 201),
}
EXPECTED = {  # how each should grow with the entries
    "judge_next": "flat/log",
    "judge_home": "linear (progress counts the round)",
    "dashboard": "linear (counts and charts every entry)",
    "leaderboard": "linear in scores (50 rows/category)",
    "entries_page1": "flat/log",
    "entries_search": "linear (substring search)",
    "winners_csv": "flat (reads the awards)",
    "entries_csv": "linear",
    "submit": "flat (hashes kept in memory)",
    "submit_lock": "flat",
}
# Candidate indexes, tried ad hoc in the bench database only (then ANALYZE), to time the pages
# again with them. Empty now: ix_entry_contest_created, ix_entry_queue, the covering score
# indexes and ix_entry_contest_category_status, found this way, are in the schema.
INDEXES: dict[str, str] = {}
RETIMED = ("judge_next", "entries_page1", "entries_search", "entries_csv")


def build(app, entries: int, judges: int, seed: int) -> dict:
    rng = random.Random(seed)
    with app.app_context():
        round_ = db.session.scalar(select(Round).where(Round.status == "open"))
        categories = {c.kind: c for c in db.session.scalars(select(Category))}
        contest_id = round_.contest_id
        now = utcnow()
        judge_ids = add_staff(judges, PASSWORD)
        # The first judge (the one timed) has scored nothing, so the queue is all of the round.
        scorers = judge_ids[1:]
        entry_ids = add_entries(contest_id, categories, entries, now)
        criteria = [c.slug for c in round_.criteria]
        scores = []
        for entry_id in rng.sample(entry_ids, int(len(entry_ids) * SCORED_FRACTION)):
            quality = rng.gauss(6, 1.5)
            for judge_id in rng.sample(scorers, SCORES_PER_SCORED):
                values = {s: min(10, max(1, round(quality + rng.gauss(0, 1)))) for s in criteria}
                scores.append(score_row(round_, entry_id, judge_id, values, now))
        for chunk in range(0, len(scores), 20_000):
            db.session.execute(insert(Score), scores[chunk : chunk + 20_000])
        queue_counts.recount_queue(contest_id)  # bulk inserts bypass the ORM events that keep it
        db.session.commit()
        admin = db.session.scalar(select(User).where(User.username == "bench-admin"))
        contest = db.session.get(Contest, contest_id)
        proposed = awards.propose(contest, app.config["QUORUM"], admin)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return {
            "entries": len(entry_ids),
            "assets": 2 * len(entry_ids),
            "judges": len(judge_ids),
            "scores": len(scores),
            "awards": len(proposed),
        }


class StatementLog:
    """The SQL statements run while active, with their parameters and durations."""

    def __init__(self, engine) -> None:
        self.active = False
        self.statements: list[tuple[str, object, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.active:
            seconds = time.perf_counter() - conn.info.pop("bench_started")
            self.statements.append((statement, parameters, seconds))


def explain(app, statement: str, parameters) -> list[str]:
    with app.app_context():
        connection = db.session.connection().connection.driver_connection
        rows = connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
        db.session.rollback()
    return [row[-1] for row in rows]


def measure_submit(app, runs: int) -> dict:
    """POST /submit by new visitors, and how long each held the write lock."""
    held: list[float] = []
    taken: list[float] = []
    real_begin_write = entries.begin_write

    def timed_begin_write() -> None:
        real_begin_write()
        taken.append(time.perf_counter())

    def committed(session) -> None:
        if taken:
            held.append(time.perf_counter() - taken.pop())

    entries.begin_write = timed_begin_write
    event.listen(Session, "after_commit", committed)
    client, times = app.test_client(), []
    try:
        for n in range(runs + 1):  # the first is the warm-up
            photo = io.BytesIO()
            photo_image((1600, 1200), seed=500 + n).save(photo, "JPEG", quality=90)
            fields = {
                "title": f"새 작품 {n}",
                "name": "새 방문객",
                "email": f"growth-{n}@example.com",
                "phone": f"010-7777-{n:04d}",
                "consent": "y",
                "declaration": "y",
                "media": (io.BytesIO(photo.getvalue()), "new.jpg"),
            }
            started = time.perf_counter()
            response = client.post("/submit", data=fields, headers={"Accept": "application/json"})
            times.append(time.perf_counter() - started)
            assert response.status_code == 201, response.get_data(as_text=True)
    finally:
        entries.begin_write = real_begin_write
        event.remove(Session, "after_commit", committed)
    blank = {"status": 201, "bytes": 0, "queries": None, "sql_ms": None}
    blank |= {"slowest_sql": None, "slowest_sql_ms": None, "slowest_plan": None}
    return {
        "submit": blank | {"median_ms": round(statistics.median(times[1:]) * 1000, 2)},
        "submit_lock": blank | {"median_ms": round(statistics.median(held[1:]) * 1000, 2)},
    }


def measure(app, clients: dict, keys, runs: int, log: StatementLog) -> dict:
    out = {}
    for key in keys:
        who, path, expected = PAGES[key]
        client = clients[who]

        def request(client=client, path=path):
            response = client.get(path)
            body = response.get_data()  # exports may stream: read them whole
            response.close()
            return response.status_code, len(body)

        status, size = request()  # warm-up
        assert status == expected, (key, status)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            request()
            times.append(time.perf_counter() - started)
        log.statements.clear()
        log.active = True
        request()
        log.active = False
        slowest = max(log.statements, key=lambda s: s[2]) if log.statements else None
        out[key] = {
            "median_ms": round(statistics.median(times) * 1000, 2),
            "status": status,
            "bytes": size,
            "queries": len(log.statements),
            "sql_ms": round(sum(s[2] for s in log.statements) * 1000, 2),
            "slowest_sql": " ".join(slowest[0].split())[:600] if slowest else None,
            "slowest_sql_ms": round(slowest[2] * 1000, 2) if slowest else None,
            "slowest_plan": explain(app, slowest[0], slowest[1]) if slowest else None,
        }
    return out


def run_size(entries: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CONTEST_INSTANCE_PATH"] = f"{tmp}/instance"
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "UPLOAD_FOLDER": f"{tmp}/uploads",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
            }
        )
        result = app.test_cli_runner().invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        started = time.perf_counter()
        made = build(app, entries, judges=20, seed=5)
        made["build_s"] = round(time.perf_counter() - started, 1)
        print(
            f"  {entries}: built {made['entries']} entries, {made['scores']} scores,"
            f" {made['awards']} awards in {made['build_s']} s",
            flush=True,
        )
        clients = {"judge": app.test_client(), "admin": app.test_client()}
        for who, username in (("judge", "bench-judge-00"), ("admin", "bench-admin")):
            response = clients[who].post(
                "/login", data={"username": username, "password": PASSWORD}
            )
            assert response.status_code == 303, response.status_code
        with app.app_context():
            log = StatementLog(db.engine)
        pages = [key for key, (who, _, _) in PAGES.items() if who != "visitor"]
        before = measure(app, clients, pages, runs, log) | measure_submit(app, runs)
        with app.app_context():
            for sql in INDEXES.values():
                db.session.execute(text(sql))
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        after = measure(app, clients, RETIMED, runs, log)
        with app.app_context():
            db.engine.dispose()
    return {"data": made, "before": before, "after": after}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    measured = {}
    for size in sizes:
        measured[size] = run_size(size, args.runs)

    def ratios(key: str, variant: str) -> list[str]:
        values = [measured[s][variant][key]["median_ms"] for s in sizes]
        return [f"x{b / a:.1f}" for a, b in zip(values, values[1:], strict=False)]

    head = "".join(f"{f'{s:,} (ms)':>14}" for s in sizes)
    steps = "".join(
        f"{f'{a // 1000}k->{b // 1000}k':>10}" for a, b in zip(sizes, sizes[1:], strict=False)
    )
    print(f"\n{'request':<28}{'indexes':<14}{head}{steps}  expected")
    rows = []
    for variant, keys in (("before", PAGES), ("after", RETIMED)):
        label = "none" if variant == "before" else "+ candidate"
        for key in keys:
            values = [measured[s][variant][key]["median_ms"] for s in sizes]
            growth = ratios(key, variant)
            print(
                f"{PAGES[key][1][:27]:<28}{label:<14}"
                + "".join(f"{v:>14.1f}" for v in values)
                + "".join(f"{g:>10}" for g in growth)
                + f"  {EXPECTED[key]}"
            )
            rows.append(
                {
                    "request": PAGES[key][1],
                    "key": key,
                    "indexes": [] if variant == "before" else list(INDEXES),
                    "median_ms": dict(zip(map(str, sizes), values, strict=True)),
                    "growth": growth,
                    "expected": EXPECTED[key],
                }
            )
    largest = sizes[-1]
    print(f"\nSlowest SQL statement per request at {largest:,} entries (no extra index):")
    for key in PAGES:
        m = measured[largest]["before"][key]
        if m["queries"] is None:
            continue  # the upload, timed as a whole
        print(
            f"- {PAGES[key][1]}: {m['queries']} queries, {m['sql_ms']} ms of SQL; slowest"
            f" {m['slowest_sql_ms']} ms: {m['slowest_sql'][:160]}..."
        )
        for step in m["slowest_plan"] or []:
            print(f"      {step}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"growth-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "sizes": sizes,
                "runs": args.runs,
                "scored_fraction": SCORED_FRACTION,
                "scores_per_scored_entry": SCORES_PER_SCORED,
                "search": SEARCH,
                "indexes": INDEXES,
                "rows": rows,
                "detail": {str(s): measured[s] for s in sizes},
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    print(f"\nWrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
