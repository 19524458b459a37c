"""Judging at fair scale: the judge's next entry and the leaderboard over 100 000 scores.

Builds a SQLite database (migrations applied by `init-db`) with 10 000 entries (no files: the
asset rows point at keys that do not exist), 20 judges and 100 000 scores in the open round,
plus a few recusals and rejected entries, with bulk inserts. Then it times, as medians of
--runs runs after a warm-up:

- GET /judge/next as a judge through the Flask test client (target < 20 ms);
- GET /admin/leaderboard as an admin (target < 1 s);
- `ranking.leaderboard()` alone, and beside it a naive per-entry aggregation (one query per
  entry, the way not to do it), measured in the same run.

Each measurement is taken without and then with ad-hoc candidate indexes created in the bench
database only (no migration), so their effect can be judged. Prints a table with PASS/FAIL,
writes bench/results/judging-<UTC>.json and always exits 0.
Run from the project root: .venv/bin/python bench/judging.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fill import add_entries, add_staff, score_row  # noqa: E402
from sqlalchemy import exists, insert, select, text  # noqa: E402

from contest import create_app  # noqa: E402
from contest.core.extensions import db  # noqa: E402
from contest.models import Category, Recusal, Round, Score, utcnow  # noqa: E402
from contest.services import queue_counts, ranking  # noqa: E402
from contest.services.rounds import entry_ids_in  # noqa: E402

PASSWORD = "bench password 123"
TARGETS = {"judge_next": 0.020, "admin_leaderboard": 1.0, "leaderboard_fn": 1.0}
# Candidate indexes, tried ad hoc in the bench database only. Empty now: the one proposed
# here, ix_score_round_entry_total, is in the schema (with ix_score_round_judge_total).
INDEXES: dict[str, str] = {}


def build(app, entries: int, judges: int, per_entry: int, seed: int) -> dict:
    """Fill the database in bulk; returns what was made."""
    rng = random.Random(seed)
    with app.app_context():
        round_ = db.session.scalar(select(Round).where(Round.status == "open"))
        categories = {c.kind: c for c in db.session.scalars(select(Category))}
        contest_id = round_.contest_id
        now = utcnow()
        judge_ids = add_staff(judges, PASSWORD)
        entry_ids = add_entries(contest_id, categories, entries, now)
        criteria = [c.slug for c in round_.criteria]
        scores, recusals = [], []
        for entry_id in entry_ids:
            panel = rng.sample(judge_ids, per_entry + 1)
            quality = rng.gauss(6, 1.5)
            for judge_id in panel[:per_entry]:
                leniency = (judge_id % 5 - 2) * 0.4  # some judges harsher than others
                values = {
                    slug: min(10, max(1, round(quality + leniency + rng.gauss(0, 1))))
                    for slug in criteria
                }
                scores.append(score_row(round_, entry_id, judge_id, values, now))
            if entry_id % 50 == 0:
                recusals.append({"entry_id": entry_id, "judge_id": panel[-1], "created_at": now})
        for start in range(0, len(scores), 20_000):
            db.session.execute(insert(Score), scores[start : start + 20_000])
        db.session.execute(insert(Recusal), recusals)
        queue_counts.recount_queue(contest_id)  # bulk inserts bypass the ORM events that keep it
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return {
            "entries": len(entry_ids),
            "judges": len(judge_ids),
            "scores": len(scores),
            "recusals": len(recusals),
            "round_id": round_.id,
        }


def naive_leaderboard(round_: Round) -> list[tuple]:
    """One query per entry: what `ranking.leaderboard` must not do, for comparison."""
    results = []
    for entry_id in db.session.scalars(entry_ids_in(round_)).all():
        recused = exists().where(
            Recusal.entry_id == Score.entry_id, Recusal.judge_id == Score.judge_id
        )
        totals = db.session.scalars(
            select(Score.total).where(
                Score.round_id == round_.id, Score.entry_id == entry_id, ~recused
            )
        ).all()
        if totals:
            results.append((statistics.fmean(totals), statistics.pstdev(totals), entry_id))
    results.sort(reverse=True)
    return results


def median_seconds(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(app, made: dict, runs: int, naive_runs: int) -> dict:
    judge, admin = app.test_client(), app.test_client()
    for client, username in ((judge, "bench-judge-00"), (admin, "bench-admin")):
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 303, response.status_code

    status = {}

    def get(client, path: str, key: str):
        def action():
            response = client.get(path)
            status[key] = response.status_code
            response.close()

        return action

    results = {
        "judge_next": median_seconds(get(judge, "/judge/next", "judge_next"), runs),
        "admin_leaderboard": median_seconds(
            get(admin, "/admin/leaderboard", "admin_leaderboard"), runs
        ),
    }
    with app.app_context():
        round_ = db.session.get(Round, made["round_id"])
        quorum = app.config["QUORUM"]
        results["leaderboard_fn"] = median_seconds(
            lambda: ranking.leaderboard(round_, quorum), runs
        )
        results["naive_per_entry"] = median_seconds(lambda: naive_leaderboard(round_), naive_runs)
        fast = [s for s in ranking.leaderboard(round_, quorum) if s.mean is not None]
        assert len(fast) == len(naive_leaderboard(round_)), "the two aggregations disagree"
    return {"seconds": results, "status": status}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--naive-runs", type=int, default=20)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--judges", type=int, default=20)
    parser.add_argument("--per-entry", type=int, default=10, help="scores per entry")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CONTEST_INSTANCE_PATH"] = f"{tmp}/instance"
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "UPLOAD_FOLDER": f"{tmp}/uploads",
                "WTF_CSRF_ENABLED": False,
            }
        )
        result = app.test_cli_runner().invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        started = time.perf_counter()
        made = build(app, args.entries, args.judges, args.per_entry, seed=3)
        made["build_seconds"] = round(time.perf_counter() - started, 1)
        print(
            f"Built {made['entries']} entries, {made['judges']} judges, {made['scores']} scores,"
            f" {made['recusals']} recusals in {made['build_seconds']} s."
        )
        variants = {"no extra index": measure(app, made, args.runs, args.naive_runs)}
        if INDEXES:
            with app.app_context():
                for sql in INDEXES.values():
                    db.session.execute(text(sql))
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            variants["+ " + ", ".join(INDEXES)] = measure(app, made, args.runs, args.naive_runs)
        with app.app_context():
            db.engine.dispose()

    rows = []
    labels = {
        "judge_next": "GET /judge/next",
        "admin_leaderboard": "GET /admin/leaderboard",
        "leaderboard_fn": "ranking.leaderboard()",
        "naive_per_entry": "naive: one query per entry",
    }
    print(f"\n{'measure':<30} {'indexes':<34} {'median':>10} {'status':>6} {'target':>9}  verdict")
    for variant, measured in variants.items():
        for key, label in labels.items():
            seconds = measured["seconds"][key]
            target = TARGETS.get(key)
            verdict = "" if target is None else ("PASS" if seconds < target else "FAIL")
            rows.append(
                {
                    "measure": key,
                    "indexes": variant,
                    "median_ms": round(seconds * 1000, 1),
                    "status": measured["status"].get(key),
                    "target_ms": None if target is None else target * 1000,
                    "verdict": verdict or None,
                }
            )
            print(
                f"{label:<30} {variant:<34} {seconds * 1000:>7.1f} ms"
                f" {measured['status'].get(key, ''):>6}"
                f" {'' if target is None else f'< {target * 1000:g} ms':>9}  {verdict}"
            )
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"judging-{stamp}.json"
    out.write_text(
        json.dumps({"data": made, "runs": args.runs, "indexes": INDEXES, "rows": rows}, indent=2)
    )
    print(f"\nWrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
