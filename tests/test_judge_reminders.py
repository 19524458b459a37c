"""Judges behind schedule get one reminder a day with a link to their queue, read back from a
real SMTP server on the loopback, however many workers run the job at once."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from contest.core import jobs
from contest.core.extensions import db
from contest.models import JudgeReminder, Round, User, utcnow

from .test_mail import PUBLIC, _mail_settings, _text, inbox  # noqa: F401  (the SMTP fixture)


def _behind_round(app, judge_id: int, email: str | None) -> None:
    """The open round started long ago, ends in an hour; the judge has given no score."""
    with app.app_context():
        round_ = db.session.scalar(select(Round).where(Round.status == "open"))
        round_.opened_at = utcnow() - timedelta(days=1)
        round_.deadline = utcnow() + timedelta(hours=1)
        db.session.get(User, judge_id).email = email
        db.session.commit()


def test_a_judge_behind_schedule_gets_one_reminder_a_day(make_app, inbox):  # noqa: F811
    app = make_app(**_mail_settings(inbox.port))
    from contest.services import accounts

    with app.app_context():
        late = accounts.create_user("judge-late", "judge", "correct horse battery")
        unmailed = accounts.create_user("judge-nomail", "judge", "correct horse battery")
        db.session.commit()
        late_id = late.id
        assert unmailed.email is None  # behind schedule too, but with nowhere to send it
    _behind_round(app, late_id, "late.judge@example.kr")
    # Entries waiting (make_entry serves the fixture app: these go through this one).
    _entries(app, 3)

    sent = []
    errors = []  # three workers running the hourly job at the same moment

    def worker() -> None:
        try:
            with app.app_context():
                sent.append(jobs.remind_judges_behind())
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(sent) == [0, 0, 1]
    (message,) = inbox.messages
    assert message["X-Envelope-To"] == "late.judge@example.kr"
    assert f"{PUBLIC}/judge/next" in _text(message)
    assert "3개 남았습니다" in _text(message)
    # Later the same day (the hourly job again): nothing more.
    with app.app_context():
        app.extensions["contest.tasks"]["remind_judges_behind"]()
        assert jobs.remind_judges_behind() == 0
        (claim,) = db.session.scalars(select(JudgeReminder)).all()
        assert claim.judge_id == late_id
    assert len(inbox.messages) == 1


def test_no_reminder_without_mail_or_a_public_address(make_app, inbox):  # noqa: F811
    settings = _mail_settings(inbox.port)
    del settings["PUBLIC_URL"]
    app = make_app(**settings)
    from contest.services import accounts

    with app.app_context():
        judge = accounts.create_user("judge-late", "judge", "correct horse battery")
        db.session.commit()
        judge_id = judge.id
    _behind_round(app, judge_id, "late.judge@example.kr")
    _entries(app, 2)
    with app.app_context():
        assert jobs.remind_judges_behind() == 0
        assert db.session.scalars(select(JudgeReminder)).all() == []
    assert inbox.messages == []


def _entries(app, count: int) -> None:
    """Entries in the open round, inserted straight into this app's database."""
    from contest.models import Category, Entry
    from contest.services.receipts import new_code

    with app.app_context():
        category = db.session.scalars(select(Category).where(Category.kind == "photo")).first()
        for n in range(count):
            db.session.add(
                Entry(
                    contest_id=category.contest_id,
                    category_id=category.id,
                    receipt=new_code(),
                    title=f"작품 {n}",
                    entrant_name="응모자",
                    email=f"entrant{n}@example.com",
                    phone=f"+82101234{n:04d}",
                    consent_version="test",
                    consented_at=utcnow(),
                    media_format="JPEG",
                    width=1200,
                    height=900,
                    file_size=1,
                    sha256=f"{n + 1:064x}",
                )
            )
        db.session.commit()
