"""The stored queue counts behind /judge/next: right after every change that moves them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from contest.core.extensions import db
from contest.models import Entry, Recusal, Round, Score, User
from contest.services import judging, moderation, queue_counts, rounds

GOOD = {"relevance": 8, "creativity": 7, "quality": 9}
MIGRATION = next(
    Path(__file__).parent.parent.glob("contest/migrations/versions/*_queue_counts_award_rank.py")
)


@pytest.fixture
def judges(make_user) -> list[int]:
    return [make_user(f"judge-{n}") for n in range(1, 4)]


def counts(app) -> dict[int, int | None]:
    """Every entry's stored queue count, checked against a recount from scratch."""
    with app.app_context():
        assert queue_counts.queue_drift() == []
        return dict(db.session.execute(select(Entry.id, Entry.queue_scores)).all())


def open_round(app) -> Round:
    return db.session.scalar(select(Round).where(Round.status == "open"))


def score(app, entry_id: int, judge_id: int) -> None:
    """A score through the service, as the judge's page saves it."""
    with app.app_context():
        round_ = open_round(app)
        entry = db.session.get(Entry, entry_id)
        judging.save_score(round_, entry, db.session.get(User, judge_id), GOOD)
        db.session.commit()


def test_a_new_entry_waits_with_no_score(app, make_entry):
    entry = make_entry()
    assert counts(app) == {entry: 0}


def test_each_score_counts_once_and_a_revision_does_not(app, make_entry, judges):
    entry, other = make_entry(), make_entry()
    score(app, entry, judges[0])
    score(app, entry, judges[1])
    score(app, entry, judges[1])  # revised, not a second score
    assert counts(app) == {entry: 2, other: 0}


# A script with the app and the models only: no service module imported by hand.
_SCRIPT_WITH_MODELS_ONLY = """
import json, sys
from sqlalchemy import inspect, select
from contest import create_app
from contest.core.extensions import db
from contest.models import Entry, Round, Score

registered_before = bool(inspect(Score).dispatch.after_insert)
app = create_app(json.loads(sys.argv[1]))
with app.app_context():
    round_id = db.session.scalar(select(Round.id).where(Round.status == "open"))
    entry_id, judge_id = int(sys.argv[2]), int(sys.argv[3])
    db.session.add(Score(round_id=round_id, entry_id=entry_id, judge_id=judge_id,
                         values={"relevance": 8, "creativity": 7, "quality": 9}, total=8.0))
    db.session.commit()
    count = db.session.get(Entry, entry_id).queue_scores
print(json.dumps({"registered_before": registered_before, "count": count}))
"""


def test_a_script_that_builds_the_app_keeps_the_counts_right(app, make_entry, judges):
    entry = make_entry()
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-only-key",
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "UPLOAD_FOLDER": str(app.config["UPLOAD_FOLDER"]),
        "HUEY_NAME": app.config["HUEY_NAME"],
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT_WITH_MODELS_ONLY,
            json.dumps(config),
            str(entry),
            str(judges[0]),
        ],
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "CONTEST_INSTANCE_PATH": app.instance_path},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # Importing the models registers nothing: create_app does, and the count moved.
    assert result == {"registered_before": False, "count": 1}
    assert counts(app) == {entry: 1}


def test_a_score_inserted_directly_counts_too(app, make_entry, judges):
    entry = make_entry()
    with app.app_context():
        db.session.add(
            Score(
                round_id=open_round(app).id,
                entry_id=entry,
                judge_id=judges[0],
                values=GOOD,
                total=8.0,
            )
        )
        db.session.commit()
    assert counts(app) == {entry: 1}
    with app.app_context():
        db.session.delete(db.session.scalars(select(Score)).one())
        db.session.commit()
    assert counts(app) == {entry: 0}


def test_a_recusal_stops_the_judges_score_counting_and_its_removal_restores_it(
    app, make_entry, judges
):
    entry = make_entry()
    score(app, entry, judges[0])
    score(app, entry, judges[1])
    with app.app_context():
        judging.recuse(db.session.get(Entry, entry), db.session.get(User, judges[0]))
        db.session.commit()
    assert counts(app) == {entry: 1}
    with app.app_context():
        db.session.delete(db.session.get(Recusal, (entry, judges[0])))
        db.session.commit()
    assert counts(app) == {entry: 2}


def test_rejecting_takes_the_entry_out_of_the_queue_and_restoring_brings_its_count_back(
    app, make_entry, make_user, judges
):
    entry = make_entry()
    score(app, entry, judges[0])
    boss = make_user("boss", role="admin")
    with app.app_context():
        moderation.reject(db.session.get(Entry, entry), "규정 위반", db.session.get(User, boss))
        db.session.commit()
    assert counts(app) == {entry: None}
    with app.app_context():
        moderation.restore(db.session.get(Entry, entry), db.session.get(User, boss))
        db.session.commit()
    assert counts(app) == {entry: 1}


def test_closing_empties_the_queue_and_reopening_refills_it(app, make_entry, judges):
    entry, other = make_entry(), make_entry()
    score(app, entry, judges[0])
    with app.app_context():
        rounds.close_round(open_round(app), 3, 0.5, "scoring", None)
        db.session.commit()
    assert counts(app) == {entry: None, other: None}
    with app.app_context():
        closed = db.session.scalars(select(Round)).one()
        rounds.reopen_round(closed, None)
        db.session.commit()
    assert counts(app) == {entry: 1, other: 0}


def test_a_screening_round_hands_only_the_advancing_entries_to_the_next_round(
    app, make_entry, judges
):
    advancing, dropped, unscored = make_entry(), make_entry(), make_entry()
    with app.app_context():
        round_ = open_round(app)
        round_.method = "screening"
        round_.criteria.clear()
        db.session.commit()
        for judge_id in judges:
            for entry_id, verdict in ((advancing, True), (dropped, False)):
                judging.save_score(
                    round_,
                    db.session.get(Entry, entry_id),
                    db.session.get(User, judge_id),
                    {"verdict": verdict},
                )
        db.session.commit()
    assert counts(app) == {advancing: 3, dropped: 3, unscored: 0}
    with app.app_context():
        rounds.close_round(open_round(app), 3, 0.5, "scoring", None)
        db.session.commit()
    assert counts(app) == {advancing: 0, dropped: None, unscored: None}
    score(app, advancing, judges[0])
    assert counts(app) == {advancing: 1, dropped: None, unscored: None}


def test_changing_the_round_directly_recounts_too(app, make_entry, judges):
    entry = make_entry()
    score(app, entry, judges[0])
    with app.app_context():
        open_round(app).status = "draft"
        db.session.commit()
    assert counts(app) == {entry: None}
    with app.app_context():
        db.session.scalars(select(Round)).one().status = "open"
        db.session.commit()
    assert counts(app) == {entry: 1}


def test_drift_is_found_and_a_recount_repairs_it(app, make_entry, judges):
    entry, other = make_entry(), make_entry()
    score(app, entry, judges[0])
    with app.app_context():
        db.session.execute(update(Entry).values(queue_scores=7))  # a bulk write: no events
        db.session.commit()
        assert sorted(queue_counts.queue_drift()) == sorted([entry, other])
        queue_counts.recount_queue()
        db.session.commit()
    assert counts(app) == {entry: 1, other: 0}


def test_the_migrations_backfill_agrees_with_the_app(app, make_entry, make_user, judges):
    """The backfill is written out in the migration (which never imports the app)."""
    spec = importlib.util.spec_from_file_location("queue_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    scored, recused, rejected, waiting = (make_entry() for _ in range(4))
    for judge_id in judges:
        score(app, scored, judge_id)
        score(app, recused, judge_id)
    boss = make_user("boss", role="admin")
    with app.app_context():
        judging.recuse(db.session.get(Entry, recused), db.session.get(User, judges[0]))
        moderation.reject(db.session.get(Entry, rejected), "규정 위반", db.session.get(User, boss))
        db.session.commit()
        expected = dict(db.session.execute(select(Entry.id, Entry.queue_scores)).all())
        db.session.execute(update(Entry).values(queue_scores=None))
        db.session.execute(text(migration.BACKFILL).bindparams(yes=True))
        db.session.commit()
    assert counts(app) == expected == {scored: 3, recused: 2, rejected: None, waiting: 0}


# --- Dispatch over the stored counts -----------------------------------------------------------


def _next(app, judge_id: int, **kwargs) -> int | None:
    with app.app_context():
        return judging.next_entry_id(open_round(app), judge_id, **kwargs)


def test_a_tie_wider_than_the_window_still_reaches_every_entry(
    app, make_entry, judges, monkeypatch
):
    monkeypatch.setattr(judging, "QUEUE_WINDOW", 2)
    entries = [make_entry() for _ in range(6)]
    seen = Counter(_next(app, judges[0]) for _ in range(120))
    assert set(seen) == set(entries)


def test_the_fewest_scored_win_and_a_preferred_entry_wins_its_tie(app, make_entry, judges):
    low, high, other_low = make_entry(), make_entry(), make_entry()
    score(app, high, judges[1])
    assert {_next(app, judges[0]) for _ in range(30)} == {low, other_low}
    assert {_next(app, judges[0], prefer=other_low) for _ in range(10)} == {other_low}
    assert {_next(app, judges[0], prefer=high) for _ in range(10)} <= {low, other_low}
    assert {_next(app, judges[0], exclude=low) for _ in range(10)} == {other_low}


def test_a_judge_never_gets_what_they_scored_or_recused(app, make_entry, judges):
    scored, recused, left = make_entry(), make_entry(), make_entry()
    score(app, scored, judges[0])
    with app.app_context():
        judging.recuse(db.session.get(Entry, recused), db.session.get(User, judges[0]))
        db.session.commit()
    assert {_next(app, judges[0]) for _ in range(20)} == {left}
    score(app, left, judges[0])
    assert _next(app, judges[0]) is None
