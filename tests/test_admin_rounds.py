"""Admin pages for rounds: the dashboard, the list, criteria, reopening, switching the method."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import AuditLog, Criterion, Round, Score, User, utcnow
from contest.services import rounds

from .conftest import PASSWORD, csrf_token

SEEDED = [("relevance", "주제 적합성", 40), ("creativity", "창의성", 30), ("quality", "완성도", 30)]


@pytest.fixture
def first_round(app) -> int:
    """The id of the seeded open scoring round, "1차 심사"."""
    with app.app_context():
        return db.session.scalar(select(Round.id).where(Round.number == 1))


def _criteria(app, round_id: int) -> list[tuple[str, str, int]]:
    with app.app_context():
        query = select(Criterion).where(Criterion.round_id == round_id)
        return [(c.slug, c.name, c.weight) for c in db.session.scalars(query.order_by("position"))]


def _round(app, round_id: int) -> Round:
    with app.app_context():
        round_ = db.session.get(Round, round_id)
        db.session.expunge(round_)
        return round_


def _audits(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _rows(*rows: tuple[str, str, int | str]) -> dict:
    """The criteria editor's fields for these rows, plus a blank row as the page sends it."""
    data = {}
    for i, (slug, name, weight) in enumerate([*rows, ("", "", "")]):
        data |= {f"rows-{i}-slug": slug, f"rows-{i}-name": name, f"rows-{i}-weight": weight}
    return data


def _add_score(app, make_entry, round_id: int) -> None:
    """A judge's score, inserted straight into the database."""
    entry_id = make_entry()
    with app.app_context():
        judge = User(username="judge-scorer", role="judge", password_hash="x")
        db.session.add(judge)
        db.session.flush()
        values = {"relevance": 7, "creativity": 8, "quality": 9}
        db.session.add(
            Score(round_id=round_id, entry_id=entry_id, judge_id=judge.id, values=values, total=7.9)
        )
        db.session.commit()


def _add_round(app, number: int, status: str, method: str = "scoring") -> int:
    with app.app_context():
        first = db.session.scalar(select(Round).where(Round.number == 1))
        round_ = Round(
            contest_id=first.contest_id,
            number=number,
            name=f"{number}차 심사",
            method=method,
            status=status,
            takes_all_entries=False,
            opened_at=utcnow() if status != "draft" else None,
            closed_at=utcnow() if status == "closed" else None,
        )
        db.session.add(round_)
        db.session.commit()
        return round_.id


def _close(app, round_id: int) -> None:
    with app.app_context():
        round_ = db.session.get(Round, round_id)
        round_.status, round_.closed_at = "closed", utcnow()
        db.session.commit()


def test_the_dashboard_shows_the_open_round_and_the_entries(app, client, admin, make_entry):
    make_entry()
    make_entry()
    make_entry(status="rejected")
    make_entry(kind="video")
    page = client.get("/admin").get_data(as_text=True)
    assert "1차 심사" in page and "점수 심사" in page and "진행 중" in page
    assert "<dt>대상 작품</dt><dd>3편</dd>" in page  # the rejected entry is out of judging
    assert "<dt>받은 점수</dt><dd>0건</dd>" in page
    assert "사진 — 3편" in page and "영상 — 1편" in page
    assert "<dt>접수</dt><dd>2편</dd>" in page and "<dt>제외</dt><dd>1편</dd>" in page
    for link in ("/admin/judges", "/admin/rounds", "/admin/leaderboard", "/admin/judging"):
        assert f'href="{link}"' in page


def test_the_dashboard_says_when_no_round_is_open(app, client, admin, first_round):
    _close(app, first_round)
    assert "지금 열려 있는 심사가 없습니다" in client.get("/admin").get_data(as_text=True)


def test_the_rounds_list(app, client, admin, first_round, make_entry):
    make_entry()
    _add_score(app, make_entry, first_round)
    page = client.get("/admin/rounds").get_data(as_text=True)
    assert "1. 1차 심사" in page
    assert "<dt>대상 작품</dt><dd>2편</dd>" in page
    assert "<dt>받은 점수</dt><dd>1건</dd>" in page
    assert f'href="/admin/rounds/{first_round}/close"' in page
    assert f"/admin/rounds/{first_round}/criteria" in page


def test_editing_criteria_renames_reweights_adds_and_removes(app, client, admin, first_round):
    page = client.get(f"/admin/rounds/{first_round}/criteria").get_data(as_text=True)
    assert 'value="relevance"' in page and 'value="40"' in page
    data = _rows(
        ("relevance", "정부3.0 주제 적합성", 30),
        ("creativity", "창의성", 30),
        ("quality", "완성도", 20),
        ("impact", "전달력", 20),
    )
    response = client.post(f"/admin/rounds/{first_round}/criteria", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/rounds/{first_round}/criteria"
    assert _criteria(app, first_round) == [
        ("relevance", "정부3.0 주제 적합성", 30),
        ("creativity", "창의성", 30),
        ("quality", "완성도", 20),
        ("impact", "전달력", 20),
    ]
    data = _rows(("impact", "전달력", 50), ("story", "이야기", 50), ("quality", "완성도", 0))
    data["rows-2-remove"] = "y"  # ticked for removal: ignored, so its weight does not count
    assert client.post(f"/admin/rounds/{first_round}/criteria", data=data).status_code == 303
    assert _criteria(app, first_round) == [("impact", "전달력", 50), ("story", "이야기", 50)]
    (first, second) = _audits(app, "set-criteria")
    assert first.user_id == admin and first.target == f"round:{first_round}"
    assert [c["slug"] for c in first.old["criteria"]] == ["relevance", "creativity", "quality"]
    assert second.new["criteria"] == [
        {"slug": "impact", "name": "전달력", "weight": 50},
        {"slug": "story", "name": "이야기", "weight": 50},
    ]


@pytest.mark.parametrize(("last", "total"), [(29, 99), (31, 101)])
def test_weights_must_sum_to_exactly_100(app, client, admin, first_round, last, total):
    data = _rows(
        ("relevance", "바뀐 이름", 40), ("creativity", "창의성", 30), ("quality", "완성도", last)
    )
    response = client.post(f"/admin/rounds/{first_round}/criteria", data=data)
    assert response.status_code == 400
    assert f"가중치의 합이 정확히 100이어야 합니다. 지금은 {total}입니다." in response.get_data(
        as_text=True
    )
    assert _criteria(app, first_round) == SEEDED
    assert _audits(app, "set-criteria") == []


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("Quality", "영문 소문자로 시작"),
        ("1st", "영문 소문자로 시작"),
        ("bad-slug", "영문 소문자로 시작"),
        ("완성도", "영문 소문자로 시작"),
        ("x" * 31, "30자 이내"),
        ("creativity", "이미 쓴 코드"),
    ],
)
def test_slugs_are_lowercase_ascii_and_unique(app, client, admin, first_round, slug, message):
    data = _rows(
        ("relevance", "주제 적합성", 40), ("creativity", "창의성", 30), (slug, "완성도", 30)
    )
    response = client.post(f"/admin/rounds/{first_round}/criteria", data=data)
    assert response.status_code == 400
    error = re.search(r'id="rows-2-slug-error">([^<]*)<', response.get_data(as_text=True))
    assert message in error.group(1)
    assert _criteria(app, first_round) == SEEDED


def test_a_half_filled_row_is_refused_and_blank_rows_ignored(app, client, admin, first_round):
    data = _rows(("relevance", "주제 적합성", 40), ("creativity", "창의성", 30), ("", "완성도", 30))
    response = client.post(f"/admin/rounds/{first_round}/criteria", data=data)
    assert response.status_code == 400
    assert "코드를 입력해 주세요" in response.get_data(as_text=True)
    assert _criteria(app, first_round) == SEEDED


def test_the_service_keeps_the_rules_without_the_form(app, first_round):
    with app.app_context():
        round_ = db.session.get(Round, first_round)
        actor = db.session.scalar(select(User).where(User.username == "admin"))
        for rows, message in (
            ([("a", "A", 60), ("b", "B", 39)], "합이 정확히 100"),
            ([("a", "A", 50), ("a", "B", 50)], "같은 코드"),
            ([("A", "A", 100)], "영문 소문자"),
            ([], "하나 이상"),
        ):
            with pytest.raises(rounds.RoundError, match=message):
                rounds.replace_criteria(round_, rows, actor)
        db.session.commit()
    assert _criteria(app, first_round) == SEEDED


def test_criteria_are_locked_once_a_score_exists(app, client, admin, first_round, make_entry):
    _add_score(app, make_entry, first_round)
    page = client.get(f"/admin/rounds/{first_round}/criteria").get_data(as_text=True)
    assert "이미 점수가 있어 기준을 바꿀 수 없습니다" in page
    assert 'name="rows-0-slug"' not in page
    data = _rows(("relevance", "주제 적합성", 50), ("creativity", "창의성", 50))
    response = client.post(f"/admin/rounds/{first_round}/criteria", data=data)
    assert response.status_code == 409
    assert "이미 점수가 있어 기준을 바꿀 수 없습니다" in response.get_data(as_text=True)
    assert _criteria(app, first_round) == SEEDED


def test_a_screening_round_has_no_criteria_to_edit(app, client, admin, first_round):
    round_id = _add_round(app, 2, "draft", method="screening")
    page = client.get(f"/admin/rounds/{round_id}/criteria").get_data(as_text=True)
    assert "선별 심사에는 채점 기준이 없습니다" in page
    response = client.post(f"/admin/rounds/{round_id}/criteria", data=_rows(("a", "A", 100)))
    assert response.status_code == 409
    assert _criteria(app, round_id) == []


def test_reopening_is_refused_while_another_round_is_open(app, client, admin, first_round):
    _close(app, first_round)
    second = _add_round(app, 2, "open")
    response = client.post(f"/admin/rounds/{first_round}/reopen")
    assert response.status_code == 409
    message = html.unescape(response.get_data(as_text=True))
    assert "'2차 심사' 심사가 열려 있어 다시 열 수 없습니다" in message
    assert _round(app, first_round).status == "closed"
    assert _audits(app, "reopen-round") == []

    _close(app, second)
    response = client.post(f"/admin/rounds/{first_round}/reopen")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/rounds"
    round_ = _round(app, first_round)
    assert round_.status == "open" and round_.closed_at is None
    (reopened,) = _audits(app, "reopen-round")
    assert reopened.user_id == admin and reopened.target == f"round:{first_round}"
    assert reopened.old["status"] == "closed" and reopened.new["status"] == "open"


@pytest.mark.parametrize("status", ["open", "draft"])
def test_only_closed_rounds_reopen(app, client, admin, first_round, status):
    round_id = first_round if status == "open" else _add_round(app, 2, "draft")
    response = client.post(f"/admin/rounds/{round_id}/reopen")
    assert response.status_code == 409
    assert "마감된 심사만 다시 열 수 있습니다" in response.get_data(as_text=True)
    assert _round(app, round_id).status == status


def test_switching_the_method_before_any_score(app, client, admin, first_round):
    response = client.post(f"/admin/rounds/{first_round}/method", data={"method": "screening"})
    assert response.status_code == 303
    assert _round(app, first_round).method == "screening"
    client.post(f"/admin/rounds/{first_round}/method", data={"method": "scoring"})
    assert _round(app, first_round).method == "scoring"
    assert _criteria(app, first_round) == SEEDED  # kept while screening, back in use now
    changes = [(a.user_id, a.old, a.new) for a in _audits(app, "set-round-method")]
    assert changes == [
        (admin, {"method": "scoring"}, {"method": "screening"}),
        (admin, {"method": "screening"}, {"method": "scoring"}),
    ]


def test_a_round_switched_to_scoring_gets_the_default_criteria(app, client, admin):
    round_id = _add_round(app, 2, "draft", method="screening")
    client.post(f"/admin/rounds/{round_id}/method", data={"method": "scoring"})
    assert _criteria(app, round_id) == SEEDED


def test_the_method_is_fixed_once_scores_exist(app, client, admin, first_round, make_entry):
    _add_score(app, make_entry, first_round)
    response = client.post(f"/admin/rounds/{first_round}/method", data={"method": "screening"})
    assert response.status_code == 409
    assert "이미 점수가 있어 방식을 바꿀 수 없습니다" in response.get_data(as_text=True)
    assert _round(app, first_round).method == "scoring"
    assert _audits(app, "set-round-method") == []


def test_an_unknown_method_is_refused(app, client, admin, first_round):
    response = client.post(f"/admin/rounds/{first_round}/method", data={"method": "lottery"})
    assert response.status_code == 400
    assert "점수 심사, 선별 심사, 순위 심사" in response.get_data(as_text=True)
    assert _round(app, first_round).method == "scoring"


def test_unknown_rounds_are_404(client, admin):
    assert client.get("/admin/rounds/9999/criteria").status_code == 404
    assert client.post("/admin/rounds/9999/reopen").status_code == 404


def test_round_changes_need_the_csrf_token(make_app):
    from contest.services import accounts

    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        accounts.create_user("organiser-csrf", "admin", PASSWORD)
        db.session.commit()
        round_id = db.session.scalar(select(Round.id).where(Round.number == 1))
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"username": "organiser-csrf", "password": PASSWORD, "csrf_token": token}
    )
    data = _rows(("only", "하나", 100))
    assert client.post(f"/admin/rounds/{round_id}/criteria", data=data).status_code == 400
    assert (
        client.post(f"/admin/rounds/{round_id}/method", data={"method": "screening"}).status_code
        == 400
    )
    assert _criteria(app, round_id) == SEEDED
    assert _round(app, round_id).method == "scoring"

    page = client.get(f"/admin/rounds/{round_id}/criteria").get_data(as_text=True)
    response = client.post(
        f"/admin/rounds/{round_id}/criteria", data=data | {"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 303
    assert _criteria(app, round_id) == [("only", "하나", 100)]
    with app.app_context():
        db.engine.dispose()
