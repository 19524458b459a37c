"""The retention purge: non-winners' personal data goes; results, winners and logs stay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contest.core.extensions import db
from contest.models import Asset, AuditLog, Award, Contest, Entry, Score, utcnow
from contest.storage import get_storage

from .test_awards import give_scores, judges  # noqa: F401 - judges is a fixture
from .test_winners import award

PUBLISHED = datetime(2027, 1, 10, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


@pytest.fixture
def entries(app, make_entry, judges) -> dict[str, int]:  # noqa: F811
    """A winner, two non-winners (one a minor), a rejected entry; the results published."""
    ids = {
        "winner": make_entry(title="대상작", entrant_name="홍길동"),
        "loser": make_entry(title="낙선작", entrant_name="성춘향"),
        "minor": make_entry(
            title="어린이 작품",
            entrant_name="김어린",
            under14=True,
            guardian_name="김보호",
            guardian_phone="+821099998888",
            guardian_consented_at=utcnow(),
        ),
        "rejected": make_entry(title="제외작", status="rejected", rejected_reason="저작권"),
    }
    for key in ("winner", "loser", "minor"):
        give_scores(app, ids[key], judges, 7.0)
    award(app, ids["winner"], "grand", 1)
    with app.app_context():
        db.session.scalar(select(Contest)).results_published_at = PUBLISHED
        db.session.commit()
    return ids


def snapshot(app, entry_id: int) -> dict:
    with app.app_context():
        e = db.session.get(Entry, entry_id)
        storage = get_storage()
        return {
            "name": e.entrant_name,
            "email": e.email,
            "phone": e.phone,
            "guardian": (e.guardian_name, e.guardian_phone),
            "filename": e.original_filename,
            "purged_at": e.personal_data_purged_at,
            "title": e.title,
            "receipt": e.receipt,
            "roles": sorted(a.role for a in e.assets),
            "files": sorted(a.key for a in e.assets if storage.exists(a.key)),
        }


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(Score.id))),
            db.session.scalar(select(func.count(Award.id))),
        )


def purge_audits(app) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "purge-personal-data")
        ).all()
        db.session.expunge_all()
        return rows


def test_non_winners_lose_their_personal_data_results_stay(app, runner, entries):
    winner_before = snapshot(app, entries["winner"])
    loser_before = snapshot(app, entries["loser"])
    scores_and_awards = counts(app)

    result = runner.invoke(args=["purge-personal-data", "--before", "2027-01-11"])
    assert result.exit_code == 0, result.output
    assert "erased the personal data of 3 entries" in result.output
    assert "winners kept" in result.output

    for key in ("loser", "minor", "rejected"):
        after = snapshot(app, entries[key])
        assert (after["name"], after["email"], after["phone"], after["filename"]) == ("",) * 4
        assert after["purged_at"] is not None
    assert snapshot(app, entries["loser"])["guardian"] == (None, None)
    # The schema requires an under-14 entry to name a guardian: erased to "" rather than NULL.
    assert snapshot(app, entries["minor"])["guardian"] == ("", "")

    loser_after = snapshot(app, entries["loser"])
    assert loser_after["title"] == loser_before["title"]  # anonymous, still in the results
    assert loser_after["receipt"] == loser_before["receipt"]
    assert loser_after["files"] == loser_before["files"]  # originals kept without --originals
    assert snapshot(app, entries["winner"]) == winner_before  # winners keep their data
    assert counts(app) == scores_and_awards

    (audit,) = purge_audits(app)
    assert audit.user_id is None and audit.new["by"] == "cli"
    assert audit.new["originals"] is False
    assert audit.new["contests"][0]["entries"] == 3


def test_originals_go_only_for_non_winners_and_only_with_the_flag(app, runner, entries):
    winner_before = snapshot(app, entries["winner"])
    loser_before = snapshot(app, entries["loser"])
    with app.app_context():
        loser_original = db.session.get(Entry, entries["loser"]).asset("original").key
    result = runner.invoke(args=["purge-personal-data", "--before", "2027-01-11", "--originals"])
    assert result.exit_code == 0, result.output
    assert "deleted 3 original files" in result.output

    loser_after = snapshot(app, entries["loser"])
    assert loser_after["roles"] == ["preview", "thumbnail"]  # derivatives kept
    assert loser_after["files"] == [k for k in loser_before["files"] if k != loser_original]
    with app.app_context():
        assert not get_storage().exists(loser_original)
        assert db.session.scalar(select(Asset).where(Asset.key == loser_original)) is None
    assert snapshot(app, entries["winner"]) == winner_before
    assert purge_audits(app)[0].new["contests"][0]["originals"] == 3


def test_the_purge_is_idempotent(app, runner, entries):
    args = ["purge-personal-data", "--before", "2027-01-11"]
    assert runner.invoke(args=args).exit_code == 0
    first = {k: snapshot(app, v) for k, v in entries.items()}
    again = runner.invoke(args=args)
    assert again.exit_code == 0
    assert "erased the personal data of 0 entries" in again.output
    assert {k: snapshot(app, v) for k, v in entries.items()} == first  # purged_at kept too

    # Originals left by a first run without the flag go on a later run with it.
    later = runner.invoke(args=[*args, "--originals"])
    assert "0 entries, deleted 3 original files" in later.output
    assert "deleted 0 original files" in runner.invoke(args=[*args, "--originals"]).output
    assert len(purge_audits(app)) == 4  # every run is logged, even one with nothing to do


def test_nothing_goes_before_the_retention_period_ends(app, runner, entries):
    before = {k: snapshot(app, v) for k, v in entries.items()}
    # The results were published at 12:00 on 10 January (Seoul): a cut-off at the start of
    # that day is before the publication.
    result = runner.invoke(args=["purge-personal-data", "--before", "2027-01-10", "--originals"])
    assert result.exit_code == 0, result.output
    assert "No contest's retention period ended" in result.output
    assert {k: snapshot(app, v) for k, v in entries.items()} == before


def test_an_unpublished_contest_is_purged_by_submission_date(app, runner, make_entry):
    old = make_entry(entrant_name="옛 응모자", created_at=datetime(2026, 12, 1, tzinfo=UTC))
    recent = make_entry(entrant_name="새 응모자", created_at=datetime(2027, 3, 1, tzinfo=UTC))
    old_winner = make_entry(entrant_name="옛 수상자", created_at=datetime(2026, 12, 1, tzinfo=UTC))
    award(app, old_winner, "grand", 1)
    result = runner.invoke(args=["purge-personal-data", "--before", "2027-01-01"])
    assert result.exit_code == 0, result.output
    assert "not yet published" in result.output
    assert snapshot(app, old)["name"] == ""
    assert snapshot(app, recent)["name"] == "새 응모자"
    assert snapshot(app, old_winner)["name"] == "옛 수상자"


def test_a_bad_date_is_refused(runner):
    result = runner.invoke(args=["purge-personal-data", "--before", "next year"])
    assert result.exit_code != 0
    assert "Invalid value" in result.output


def test_the_doctor_stays_happy_after_originals_are_purged(app, runner, entries):
    runner.invoke(args=["purge-personal-data", "--before", "2027-01-11", "--originals"])
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Entry, entries["loser"]).personal_data_purged_at <= utcnow()
