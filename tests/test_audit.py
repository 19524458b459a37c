"""The audit page: newest first, who/when/what, filters by user, action, target and Seoul dates."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from contest.core.extensions import db
from contest.models import AuditLog, User


def _user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def _log(app, action: str, target: str, at: datetime, user_id: int | None = None, **values):
    with app.app_context():
        row = AuditLog(
            action=action,
            target=target,
            at=at,
            user_id=user_id,
            old=values.get("old"),
            new=values.get("new"),
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def _rows(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-audit="(\d+)">', page)]


@pytest.fixture
def trail(app, admin, make_user) -> dict[str, int]:
    """A few audit rows at known moments, and nothing else in the log."""
    judge = make_user("judge-han")
    with app.app_context():
        db.session.execute(delete(AuditLog))
        db.session.commit()
    # 15:30 UTC is 00:30 the next day in Seoul.
    return {
        "reject": _log(
            app,
            "reject-entry",
            "entry:12",
            datetime(2026, 12, 3, 15, 30, tzinfo=UTC),
            admin,
            old={"status": "submitted"},
            new={"status": "rejected", "reason": "행사와 무관"},
        ),
        "score": _log(
            app,
            "score",
            "entry:120",
            datetime(2026, 12, 3, 14, 30, tzinfo=UTC),
            judge,
            new={"total": 7.5},
        ),
        "restore": _log(
            app, "restore-entry", "entry:7", datetime(2026, 12, 5, 1, 0, tzinfo=UTC), admin
        ),
        "system": _log(app, "create-user", "user:1", datetime(2026, 11, 1, 0, 0, tzinfo=UTC), None),
    }


def test_rows_are_newest_first_with_who_when_what_and_the_change(client, trail):
    page = client.get("/admin/audit").get_data(as_text=True)
    assert _rows(page) == [trail["restore"], trail["reject"], trail["score"], trail["system"]]
    row = re.search(rf'<tr data-audit="{trail["reject"]}">.*?</tr>', page, re.S).group(0)
    assert "2026-12-04 (금) 00:30" in row  # Seoul time
    assert "organiser-lee" in row and "reject-entry" in row and "entry:12" in row
    old = "{&#34;status&#34;:&#34;submitted&#34;}"
    new = "{&#34;reason&#34;:&#34;행사와 무관&#34;,&#34;status&#34;:&#34;rejected&#34;}"
    assert f"<code>{old}</code> → <code>{new}</code>" in row
    system = re.search(rf'<tr data-audit="{trail["system"]}">.*?</tr>', page, re.S).group(0)
    assert "시스템" in system and "<code>—</code> → <code>—</code>" in system


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user=organiser-lee", ["restore", "reject"]),
        ("user=ORGANISER-LEE", ["restore", "reject"]),
        ("user=judge-han", ["score"]),
        ("user=nobody", []),
        ("action=reject-entry", ["reject"]),
        ("action=reject", []),  # actions match whole
        ("target=entry:12", ["reject", "score"]),  # a prefix: entry:12 and entry:120
        ("target=entry:7", ["restore"]),
        ("target=user:", ["system"]),
        ("target=%25", []),  # a literal %, not a wildcard
        ("since=2026-12-04", ["restore", "reject"]),  # 00:30 on the 4th in Seoul counts
        ("until=2026-12-03", ["score", "system"]),  # 23:30 on the 3rd in Seoul
        ("since=2026-12-04&until=2026-12-04", ["reject"]),
        ("since=2026-12-03&until=2026-12-05&user=organiser-lee", ["restore", "reject"]),
    ],
)
def test_filters(client, trail, query, expected):
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 200
    assert _rows(response.get_data(as_text=True)) == [trail[name] for name in expected]


@pytest.mark.parametrize(
    "query", ["since=2026-13-01", "until=yesterday", "since=2026-12-05&until=2026-12-04"]
)
def test_bad_dates_are_400(client, trail, query):
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 400
    assert _rows(response.get_data(as_text=True)) == []


def test_the_audit_pages_by_50_and_keeps_the_filters(app, client, trail):
    start = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    with app.app_context():
        rows = [
            AuditLog(action="export", target=f"round:{n}", at=start + timedelta(minutes=n))
            for n in range(55)
        ]
        db.session.add_all(rows)
        db.session.commit()
        ids = [row.id for row in rows]
    first = client.get("/admin/audit?action=export&since=2026-12-04").get_data(as_text=True)
    assert _rows(first) == ids[::-1][:50]
    link = re.search(r'href="(/admin/audit\?[^"]*page=2[^"]*)"', first).group(1)
    link = link.replace("&amp;", "&")
    assert "action=export" in link and "since=2026-12-04" in link
    assert _rows(client.get(link).get_data(as_text=True)) == ids[::-1][50:]


def test_moderation_and_dismissals_are_on_the_audit_page(app, client, admin, make_entry):
    from contest.models import Flag

    entry = make_entry("audited")
    with app.app_context():
        flag = Flag(entry_id=entry, kind="low-resolution", detail="작음")
        db.session.add(flag)
        db.session.commit()
        flag_id = flag.id
    client.post(f"/admin/entries/{entry}/reject", data={"reason": "중복 응모"})
    client.post(f"/admin/entries/{entry}/restore")
    client.post(f"/admin/flags/{flag_id}/dismiss", data={"reason": "원본 확인함"})
    page = client.get(f"/admin/audit?target=entry:{entry}").get_data(as_text=True)
    for action in ("reject-entry", "restore-entry", "dismiss-flag"):
        assert f"<code>{action}</code>" in page
    assert "중복 응모" in page and "원본 확인함" in page
    assert len(_rows(page)) == 3
    assert _user_id(app, "organiser-lee") == admin
