"""The admin dashboard: entries, submissions per hour over the fair, judging, disk use."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.models import Contest, Round, Score


def _fair(app) -> Contest:
    with app.app_context():
        return db.session.scalars(select(Contest)).one()


def test_submissions_per_hour_are_counted_in_seoul_time(app, client, admin, make_entry):
    fair = _fair(app)
    two_pm = datetime.combine(fair.fair_starts_on, datetime.min.time(), SEOUL) + timedelta(hours=14)
    for minutes in (0, 10, 59):
        make_entry(created_at=two_pm + timedelta(minutes=minutes))
    make_entry(created_at=two_pm + timedelta(hours=1))
    make_entry(created_at=two_pm - timedelta(days=30))  # before the fair: not on the chart
    page = client.get("/admin").get_data(as_text=True)
    day = re.search(r'aria-label="[^"]*시간대별 응모 수">(.*?)</svg>', page, re.S).group(1)
    counts = [int(n) for n in re.findall(r'data-count="(\d+)"', day)]
    assert len(counts) == 24
    assert counts[14] == 3 and counts[15] == 1 and sum(counts) == 4
    days = (fair.fair_ends_on - fair.fair_starts_on).days + 1
    assert page.count('class="hour-chart"') == days


def test_a_fair_longer_than_a_week_is_counted_to_its_last_hour(app, make_entry):
    from contest.services.dashboard import submissions_per_hour

    with app.app_context():
        fair = db.session.scalars(select(Contest)).one()
        fair.fair_ends_on = fair.fair_starts_on + timedelta(days=9)  # 240 hours
        db.session.commit()
        last_day = datetime.combine(fair.fair_ends_on, datetime.min.time(), SEOUL)
    make_entry(created_at=last_day + timedelta(hours=23, minutes=59))
    make_entry(created_at=last_day + timedelta(days=1))  # the day after: not on the chart
    with app.app_context():
        days = submissions_per_hour(db.session.scalars(select(Contest)).one())
    assert len(days) == 10 and days[-1][23].count == 1
    assert sum(hour.count for day in days for hour in day) == 1


def test_dashboard_shows_judge_progress_and_disk_use(app, client, admin, make_entry, make_user):
    entries = [make_entry() for _ in range(3)]
    judge_id = make_user("judge-dash")
    with app.app_context():
        round_id = db.session.scalar(select(Round.id).where(Round.status == "open"))
        for entry_id in entries[:2]:
            db.session.add(
                Score(round_id=round_id, entry_id=entry_id, judge_id=judge_id, values={}, total=7.0)
            )
        db.session.commit()
    page = client.get("/admin").get_data(as_text=True)
    table = re.search(r'<table class="prizes" id="judge-progress">(.*?)</table>', page, re.S)
    row = re.search(r"<td>judge-dash</td><td>(\d+)</td><td>(\d+)</td>", table.group(1))
    assert row.groups() == ("2", "1")
    disk = re.search(r'<dl class="meta" id="disk-use">(.*?)</dl>', page, re.S).group(1)
    assert "응모 파일" in disk and "사용" in disk and re.search(r"\d+ (KB|MB|GB)", disk)
