"""The admin dashboard: entries, submissions per hour over the fair, judging, disk use."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.models import Contest, Round, Score, User

from .test_winners import award


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


def test_dashboard_warns_when_active_judges_are_fewer_than_the_quorum(
    app, client, admin, make_user
):
    # The quorum is 3 (config.QUORUM); the admin does not count, nor a disabled judge.
    ids = [make_user(f"judge-{n}") for n in range(3)]
    with app.app_context():
        db.session.get(User, ids[0]).active = False
        db.session.commit()
    page = client.get("/admin").get_data(as_text=True)
    warning = re.search(
        r'<p class="form-error" role="alert" id="quorum-warning">(.*?)</p>', page, re.S
    )
    assert warning, page
    assert "활성 심사위원이 2명으로 정족수(3명)보다 적습니다" in warning.group(1)
    assert 'href="/admin/judges"' in warning.group(1)
    with app.app_context():
        db.session.get(User, ids[0]).active = True
        db.session.commit()
    assert 'id="quorum-warning"' not in client.get("/admin").get_data(as_text=True)


def test_a_quorum_setting_above_the_judges_warns_too(make_app):
    app = make_app(QUORUM=5)
    client = app.test_client()
    with app.app_context():
        from contest.services import accounts

        accounts.create_user("boss", "admin", "correct horse battery")
        for n in range(4):
            accounts.create_user(f"judge-{n}", "judge", "correct horse battery")
        db.session.commit()
    client.post("/login", data={"username": "boss", "password": "correct horse battery"})
    page = client.get("/admin").get_data(as_text=True)
    assert "활성 심사위원이 4명으로 정족수(5명)보다 적습니다" in page


def test_dashboard_warns_when_one_entrant_holds_two_awards(app, client, admin, make_entry):
    same_phone = [
        make_entry("첫 수상작", phone="+821011112222", email="a@example.com"),
        make_entry("둘째 수상작", phone="+821011112222", email="b@example.com"),
    ]
    same_email = [
        make_entry("셋째 수상작", phone="+821033334444", email="Kim@Example.com"),
        make_entry("넷째 수상작", kind="video", phone="+821055556666", email="kim@example.com"),
    ]
    alone = make_entry("혼자 받은 상", phone="+821077778888", email="solo@example.com")
    make_entry("상 없음", phone="+821077778888", email="solo@example.com")  # no award: fine
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="shared-winners"' not in page
    for position, entry_id in enumerate(same_phone + same_email + [alone], 1):
        award(app, entry_id, "bronze", position)
    page = client.get("/admin").get_data(as_text=True)
    block = re.search(r'id="shared-winners">(.*?)</div>', page, re.S).group(1)
    listed = dict(re.findall(r'<li data-contact="([^"]+)">(.*?)</li>', block, re.S))
    assert set(listed) == {"010-1111-2222", "Kim@Example.com"}
    assert f'href="/admin/entries/{same_phone[0]}"' in listed["010-1111-2222"]
    assert f'href="/admin/entries/{same_phone[1]}"' in listed["010-1111-2222"]
    assert "셋째 수상작" in listed["Kim@Example.com"] and "넷째 수상작" in listed["Kim@Example.com"]
    assert "혼자 받은 상" not in block
    assert 'href="/admin/awards"' in block


def test_the_admin_links_come_before_the_figures(client, admin):
    page = client.get("/admin").get_data(as_text=True)
    links = page.index('aria-labelledby="links-heading"')
    assert links < page.index('id="round-heading"') and links < page.index('id="hours-heading"')
    nav = page[links : page.index("</nav>", links)]
    for path in ("/admin/entries", "/admin/judges", "/admin/leaderboard", "/admin/awards"):
        assert f'href="{path}"' in nav
