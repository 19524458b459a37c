"""Admin pages for staff accounts: guards, adding, disabling, passwords, the audit trail."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from contest.core.extensions import db
from contest.models import AuditLog, User
from contest.services import accounts
from contest.services.accounts import set_account_active

from .conftest import PASSWORD, csrf_token

NEW_PASSWORD = "a brand new passphrase"


def _user(app, username: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None:
            db.session.expunge(user)
        return user


def _audits(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def _can_log_in(app, username: str, password: str) -> int:
    """The status of a fresh sign-in attempt (303 signed in, 401 refused)."""
    return (
        app.test_client()
        .post("/login", data={"username": username, "password": password})
        .status_code
    )


def _shown_password(page: str) -> str:
    return re.search(r'class="receipt-code"[^>]*>([^<]+)<', page).group(1)


def _new_judge(**fields) -> dict:
    data = {
        "username": "judge-choi",
        "display_name": "최심사",
        "role": "judge",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_the_list_shows_every_staff_account(client, admin, make_user):
    make_user("judge-yoon")
    page = client.get("/admin/judges").get_data(as_text=True)
    assert "judge-yoon" in page and "organiser-lee" in page
    assert "심사위원" in page and "운영자" in page
    assert "준 점수" in page and "마지막 로그인" in page


def test_adding_a_judge_with_a_typed_password(app, client, admin):
    response = client.post("/admin/judges/new", data=_new_judge())
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/judges"
    user = _user(app, "judge-choi")
    assert user.role == "judge" and user.display_name == "최심사" and user.active
    assert _can_log_in(app, "judge-choi", NEW_PASSWORD) == 303
    created = _audits(app, "create-user")
    assert [(a.user_id, a.new["username"]) for a in created if a.user_id] == [(admin, "judge-choi")]
    named = _audits(app, "set-display-name")
    assert [(a.user_id, a.target) for a in named] == [(admin, f"user:{user.id}")]


def test_adding_an_admin(app, client, admin):
    client.post("/admin/judges/new", data=_new_judge(username="organiser-han", role="admin"))
    assert _user(app, "organiser-han").role == "admin"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"confirm": "something else entirely"}, "confirm", "두 비밀번호가 같지 않습니다"),
        ({"password": "short", "confirm": "short"}, "password", "10자 이상"),
        ({"password": "", "confirm": ""}, "password", "무작위 비밀번호 만들기"),
        ({"username": ""}, "username", "아이디를 입력해 주세요"),
        ({"username": "심사위원"}, "username", "영문·숫자로 시작"),
        ({"display_name": ""}, "display_name", "이름을 입력해 주세요"),
        ({"role": "owner"}, "role", "심사위원이나 운영자"),
    ],
)
def test_an_invalid_new_account_is_refused_next_to_the_field(
    app, client, admin, fields, field, message
):
    response = client.post("/admin/judges/new", data=_new_judge(**fields))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error">([^<]*)<', page).group(1)
    assert message in error
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id)).where(User.role == "judge")) == 0


@pytest.mark.parametrize("username", ["judge-kim", "JUDGE-KIM"])
def test_usernames_are_unique_so_nobody_shares_an_account(app, client, admin, make_user, username):
    make_user("judge-kim")
    response = client.post("/admin/judges/new", data=_new_judge(username=username))
    assert response.status_code == 400
    error = re.search(r'id="username-error">([^<]*)<', response.get_data(as_text=True))
    assert "이미 있습니다" in error.group(1)
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id)).where(User.role == "judge")) == 1


def test_a_generated_password_is_shown_once_and_works(app, client, admin):
    response = client.post(
        "/admin/judges/new", data=_new_judge(password=None, confirm=None, generate="y")
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    password = _shown_password(response.get_data(as_text=True))
    assert len(password) >= 16
    assert _can_log_in(app, "judge-choi", password) == 303
    for page in ("/admin/judges", "/admin", "/admin/judges/new"):
        assert password not in client.get(page).get_data(as_text=True)
    with app.app_context():
        logged = db.session.scalars(select(AuditLog)).all()
        assert all(password not in repr((a.old, a.new)) for a in logged)


def test_disabling_and_enabling_a_judge(app, client, admin, make_user):
    uid = make_user("judge-jung")
    response = client.post(f"/admin/judges/{uid}/disable")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/judges"
    assert not _user(app, "judge-jung").active
    assert _can_log_in(app, "judge-jung", PASSWORD) == 401
    assert "중지됨" in client.get("/admin/judges").get_data(as_text=True)

    assert client.post(f"/admin/judges/{uid}/enable").status_code == 303
    assert _user(app, "judge-jung").active
    assert _can_log_in(app, "judge-jung", PASSWORD) == 303
    changes = [(a.user_id, a.target, a.new) for a in _audits(app, "set-active")]
    assert changes == [
        (admin, f"user:{uid}", {"active": False}),
        (admin, f"user:{uid}", {"active": True}),
    ]


def test_a_disabled_judge_is_signed_out_at_once(app, client, admin, make_user):
    uid = make_user("judge-seo")
    judge_client = app.test_client()
    judge_client.post("/login", data={"username": "judge-seo", "password": PASSWORD})
    assert judge_client.get("/judge").status_code == 200
    client.post(f"/admin/judges/{uid}/disable")
    assert judge_client.get("/judge").status_code == 303


def test_a_disabled_then_re_enabled_judges_old_cookie_stays_dead(app, client, admin, make_user):
    uid = make_user("judge-back")
    judge_client = app.test_client()
    judge_client.post("/login", data={"username": "judge-back", "password": PASSWORD})
    saved = judge_client.get_cookie("session").value
    assert judge_client.get("/judge").status_code == 200
    client.post(f"/admin/judges/{uid}/disable")
    client.post(f"/admin/judges/{uid}/enable")
    assert judge_client.get("/judge").status_code == 303
    copy = app.test_client()
    copy.set_cookie("session", saved)
    assert copy.get("/judge").status_code == 303
    assert _can_log_in(app, "judge-back", PASSWORD) == 303  # a fresh sign-in works


def test_an_admin_reset_ends_the_judges_sessions(app, client, admin, make_user):
    uid = make_user("judge-lost-laptop")
    laptop = app.test_client()
    laptop.post("/login", data={"username": "judge-lost-laptop", "password": PASSWORD})
    assert laptop.get("/judge").status_code == 200
    client.post(
        f"/admin/judges/{uid}/password", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert laptop.get("/judge").status_code == 303


def _guess_from(app, address: str, username: str, password: str = "wrong guess") -> int:
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = address
    return guesser.post("/login", data={"username": username, "password": password}).status_code


def test_the_per_account_ceiling_locks_the_account_and_alerts_the_admins(
    app, client, admin, make_user
):
    """Guessing from many addresses, each under its own limit, still meets the account's
    ceiling: the account waits out the window everywhere, once in the audit log and on the
    dashboard, until an admin gives it a new password."""
    app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 12
    uid = make_user("judge-target")
    assert "로그인 실패가 많은 계정" not in client.get("/admin").get_data(as_text=True)
    for n in range(12):
        assert _guess_from(app, f"198.51.100.{n // 3}", "judge-target") == 401
    assert _guess_from(app, "192.0.2.1", "judge-target", PASSWORD) == 429
    assert _guess_from(app, "192.0.2.2", "judge-target") == 429
    alerts = _audits(app, "login-ceiling")
    assert [(a.user_id, a.target, a.new) for a in alerts] == [
        (None, f"user:{uid}", {"username": "judge-target", "failures": 12, "addresses": 4})
    ]
    page = client.get("/admin").get_data(as_text=True)
    warning = page[page.index('id="sign-in-alerts"') :]
    assert "로그인 실패가 많은 계정" in warning and "judge-target" in warning
    assert "실패 12번, 주소 4곳" in warning and "지금 잠김" in warning
    assert other_accounts_unaffected(app)

    client.post(
        f"/admin/judges/{uid}/password", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert _guess_from(app, "192.0.2.1", "judge-target", NEW_PASSWORD) == 303
    page = client.get("/admin").get_data(as_text=True)
    assert "judge-target" in page and "지금 잠김" not in page and "잠금 풀림" in page


def other_accounts_unaffected(app) -> bool:
    """Another judge signs in from the same addresses while one account is locked."""
    with app.app_context():
        accounts.create_user("judge-bystander", "judge", PASSWORD)
        db.session.commit()
    return _guess_from(app, "198.51.100.0", "judge-bystander", PASSWORD) == 303


def test_an_admin_cannot_disable_themself(app, client, admin):
    response = client.post(f"/admin/judges/{admin}/disable")
    assert response.status_code == 409
    assert "자기 계정은 중지할 수 없습니다" in response.get_data(as_text=True)
    assert _user(app, "organiser-lee").active
    assert _audits(app, "set-active") == []


def test_an_admin_can_disable_another_admin(app, client, admin, make_user):
    other = make_user("organiser-oh", role="admin")
    assert client.post(f"/admin/judges/{other}/disable").status_code == 303
    assert not _user(app, "organiser-oh").active


def test_the_last_active_admin_stays_even_when_two_admins_race(app, make_user):
    """Two admins each disabling the other: the second, already disabled, cannot finish."""
    first = make_user("organiser-a", role="admin")
    second = make_user("organiser-b", role="admin")
    with app.app_context():
        # Whoever else is an admin (init-db's `admin`) is out of the way for this test.
        for user in db.session.scalars(select(User).where(User.id.not_in([first, second]))):
            user.active = False
        a, b = db.session.get(User, first), db.session.get(User, second)
        set_account_active(b, False, actor=a)
        with pytest.raises(accounts.AccountError, match="마지막 활성 운영자"):
            set_account_active(a, False, actor=b)
        assert a.active


def test_the_last_admin_message_reaches_the_page(app, client, admin, monkeypatch):
    """Shown on the list with a 409 whatever path led there (here: a stale second admin)."""
    from contest.admin import staff as admin_judges

    def refuse(user, active, actor):
        raise accounts.AccountError("'x'은(는) 마지막 활성 운영자라 중지할 수 없습니다.")

    monkeypatch.setattr(admin_judges, "set_account_active", refuse)
    response = client.post(f"/admin/judges/{admin}/disable")
    assert response.status_code == 409
    assert "마지막 활성 운영자" in response.get_data(as_text=True)


def test_resetting_a_password_by_typing_it_twice(app, client, admin, make_user):
    uid = make_user("judge-kang")
    assert client.get(f"/admin/judges/{uid}/password").status_code == 200
    response = client.post(
        f"/admin/judges/{uid}/password",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert _can_log_in(app, "judge-kang", PASSWORD) == 401
    assert _can_log_in(app, "judge-kang", NEW_PASSWORD) == 303
    assert [(a.user_id, a.target) for a in _audits(app, "reset-password")] == [
        (admin, f"user:{uid}")
    ]


def test_a_reset_that_does_not_match_changes_nothing(app, client, admin, make_user):
    uid = make_user("judge-kang")
    response = client.post(
        f"/admin/judges/{uid}/password",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"},
    )
    assert response.status_code == 400
    assert "두 비밀번호가 같지 않습니다" in response.get_data(as_text=True)
    assert _can_log_in(app, "judge-kang", PASSWORD) == 303
    assert _audits(app, "reset-password") == []


def test_resetting_to_a_generated_password_shown_once(app, client, admin, make_user):
    uid = make_user("judge-kang")
    response = client.post(f"/admin/judges/{uid}/password", data={"generate": "y"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = _shown_password(response.get_data(as_text=True))
    assert _can_log_in(app, "judge-kang", password) == 303
    assert _can_log_in(app, "judge-kang", PASSWORD) == 401
    assert password not in client.get("/admin/judges").get_data(as_text=True)


def test_unknown_accounts_are_404(client, admin):
    assert client.post("/admin/judges/9999/disable").status_code == 404
    assert client.get("/admin/judges/9999/password").status_code == 404


def test_account_changes_need_the_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        accounts.create_user("organiser-csrf", "admin", PASSWORD)
        target = accounts.create_user("judge-csrf", "judge", PASSWORD)
        db.session.commit()
        uid = target.id
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post(
        "/login", data={"username": "organiser-csrf", "password": PASSWORD, "csrf_token": token}
    )

    assert client.post(f"/admin/judges/{uid}/disable").status_code == 400
    refused = client.post("/admin/judges/new", data=_new_judge())
    assert refused.status_code == 400
    assert _user(app, "judge-csrf").active and _user(app, "judge-choi") is None

    page = client.get("/admin/judges").get_data(as_text=True)
    response = client.post(f"/admin/judges/{uid}/disable", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert not _user(app, "judge-csrf").active
    with app.app_context():
        db.engine.dispose()
