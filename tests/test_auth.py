"""Staff accounts: passwords, sign-in and out, throttling, safe redirects, role guards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import AuditLog, User
from contest.services import accounts

from .conftest import PASSWORD, csrf_token


def test_passwords_are_hashed_with_scrypt_at_owasp_cost(make_app):
    app = make_app(PASSWORD_HASH_METHOD=None)
    app.config.pop("PASSWORD_HASH_METHOD")
    app.config.from_object("contest.config")  # back to the production default
    with app.app_context():
        user = accounts.create_user("judge-park", "judge", "long enough password")
        assert user.password_hash.startswith("scrypt:")
        n = int(user.password_hash.split(":")[1])
        assert n >= 2**16
        assert "long enough password" not in user.password_hash


def test_login_sends_judges_to_their_dashboard_and_admins_to_theirs(client, make_user):
    make_user("judge-a")
    make_user("admin-a", role="admin")
    judge = client.post("/login", data={"username": "judge-a", "password": PASSWORD})
    assert judge.status_code == 303 and judge.headers["Location"] == "/judge"
    client.post("/logout")
    admin = client.post("/login", data={"username": "admin-a", "password": PASSWORD})
    assert admin.headers["Location"] == "/admin"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/judge/next", "/judge/next"),
        ("https://evil.example/judge", "/judge"),
        ("//evil.example/x", "/judge"),
        ("/\\evil.example", "/judge"),
        ("javascript:alert(1)", "/judge"),
    ],
)
def test_login_returns_only_to_pages_of_this_site(client, make_user, target, expected):
    make_user("judge-b")
    response = client.post(
        "/login", data={"username": "judge-b", "password": PASSWORD, "next": target}
    )
    assert response.headers["Location"] == expected


def test_wrong_password_is_refused_kindly(client, make_user):
    make_user("judge-c")
    response = client.post("/login", data={"username": "judge-c", "password": "wrong password"})
    assert response.status_code == 401
    assert "아이디나 비밀번호가 맞지 않습니다" in response.get_data(as_text=True)
    assert client.get("/judge").status_code == 303  # still signed out


def _from(app, address: str):
    """A test client whose requests come from this address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _sign_in(client, username: str, password: str) -> int:
    return client.post("/login", data={"username": username, "password": password}).status_code


def test_five_guesses_from_one_address_throttle_that_account_there_even_the_right_password(
    app, make_user
):
    make_user("judge-d")
    attacker = _from(app, "10.0.0.1")
    for _ in range(5):
        assert _sign_in(attacker, "judge-d", "nope") == 401
    response = attacker.post("/login", data={"username": "judge-d", "password": PASSWORD})
    assert response.status_code == 429
    assert "15분 뒤에 다시" in response.get_data(as_text=True)


def test_guesses_for_a_judge_from_one_address_do_not_lock_them_out_from_another(app, make_user):
    make_user("judge-d2")
    attacker = _from(app, "10.0.0.1")
    for _ in range(7):
        assert _sign_in(attacker, "judge-d2", "nope") in (401, 429)
    assert _sign_in(attacker, "judge-d2", "nope") == 429  # the attacker is being throttled
    judge = _from(app, "10.0.0.2")
    assert _sign_in(judge, "judge-d2", PASSWORD) == 303
    assert judge.get("/judge").status_code == 200
    assert _sign_in(attacker, "judge-d2", PASSWORD) == 429  # still throttled there


def test_made_up_names_from_an_address_do_not_stop_a_real_judge_behind_it(app, make_user):
    """The venue's judges share a few public addresses (NAT)."""
    make_user("judge-e")
    venue = _from(app, "203.0.113.7")
    for n in range(5):
        assert _sign_in(venue, f"guess-{n}", "nope") == 401
    # The address is throttled for names that are not accounts...
    assert _sign_in(venue, "guess-9", "nope") == 429
    # ...and a wrong password for a real account from there looks just the same (no hint
    # which names exist), while the right one still signs the judge in.
    assert _sign_in(venue, "judge-e", "wrong password") == 429
    judge = _from(app, "203.0.113.7")
    assert _sign_in(judge, "judge-e", PASSWORD) == 303
    assert judge.get("/judge").status_code == 200


def test_unknown_names_still_cost_a_password_check(app, monkeypatch):
    """A made-up name is checked against a dummy hash made with the site's own method and cost,
    so it takes as long as a real one."""
    from contest.services import accounts as service

    checked = []
    real = service.check_password_hash
    monkeypatch.setattr(
        service, "check_password_hash", lambda h, p: checked.append(h) or real(h, p)
    )
    client = _from(app, "10.0.0.3")
    for n in range(6):
        _sign_in(client, f"nobody-{n}", "nope")
    method = app.config["PASSWORD_HASH_METHOD"]
    assert checked == [service._dummy_hash(method)] * 6
    assert checked[0].startswith(method + "$")


def test_disabled_accounts_cannot_sign_in_and_are_signed_out(app, client, make_user, login):
    user_id = make_user("judge-f")
    login("judge-f")
    with app.app_context():
        accounts.set_active(db.session.get(User, user_id), False)
        db.session.commit()
    assert client.get("/judge").status_code == 303  # the session no longer counts
    refused = client.post("/login", data={"username": "judge-f", "password": PASSWORD})
    assert refused.status_code == 401


def test_logout_needs_a_post_with_a_csrf_token(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        accounts.create_user("judge-g", "judge", PASSWORD)
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)

    token = csrf_token(page)
    signed_in = client.post(
        "/login", data={"username": "judge-g", "password": PASSWORD, "csrf_token": token}
    )
    assert signed_in.status_code == 303
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token
    assert client.get("/judge").status_code == 200


def test_create_user_command_and_the_first_admin(app, runner):
    result = runner.invoke(
        args=["create-user", "judge-h", "--role", "judge", "--password", "another long one"]
    )
    assert result.exit_code == 0, result.output
    prompted = runner.invoke(
        args=["create-user", "judge-i", "--role", "judge"],
        input="typed twice here\ntyped twice here\n",
    )
    assert prompted.exit_code == 0, prompted.output
    duplicate = runner.invoke(
        args=["create-user", "judge-h", "--role", "judge", "--password", "x" * 12]
    )
    assert duplicate.exit_code != 0 and "이미 있습니다" in duplicate.output
    with app.app_context():
        names = set(db.session.scalars(select(User.username)))
        assert {"judge-h", "judge-i", "admin"} <= names  # init-db made the first admin
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "create-user"))


@pytest.mark.slow
def test_organisers_adding_staff_at_the_same_moment_all_succeed(tmp_path):
    """Three `create-user` commands at once, as at a fair's morning briefing, on a real
    database: each waits its turn at the write lock, where one read that became a write
    failed with "database is locked" because another command had committed meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    from . import databases
    from .server_helpers import flask, query, site_env

    env = site_env(tmp_path)
    names = [f"judge-at-once-{n}" for n in range(3)]

    def add(name: str):
        return flask(env, "create-user", name, "--role", "judge", "--password", PASSWORD)

    try:
        assert flask(env, "init-db").returncode == 0
        with ThreadPoolExecutor(len(names)) as pool:
            done = list(pool.map(add, names))
        assert [d.returncode for d in done] == [0] * len(names), [d.stderr[-800:] for d in done]
        url = env["CONTEST_SQLALCHEMY_DATABASE_URI"]
        judges = query(url, """SELECT username FROM "user" WHERE role = 'judge'""")
        assert sorted(name for (name,) in judges) == names
    finally:
        databases.drop_site(tmp_path)


def test_init_db_creates_the_first_admin_once_and_shows_the_password(tmp_path, monkeypatch):
    from contest import create_app

    from .conftest import _config

    monkeypatch.setenv("CONTEST_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(_config(tmp_path))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init-db"])
    password = first.output.split("shown only this once:")[1].split()[0]
    assert runner.invoke(args=["init-db"]).output.count("Created the account") == 0
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": password})
    assert response.headers["Location"] == "/admin"
    with app.app_context():
        db.engine.dispose()


def test_resetting_a_password_signs_out_sessions_opened_with_the_old_one(
    app, client, make_user, login
):
    user_id = make_user("judge-reset")
    login("judge-reset")
    assert client.get("/judge").status_code == 200
    with app.app_context():
        accounts.set_password(db.session.get(User, user_id), "a brand new password")
        db.session.commit()
    assert client.get("/judge").status_code == 303  # back to the login page
    client.post("/login", data={"username": "judge-reset", "password": "a brand new password"})
    assert client.get("/judge").status_code == 200


def _saved_cookie(client) -> str:
    return client.get_cookie("session").value


def _with_cookie(app, cookie: str):
    """Another browser holding a copy of a saved session cookie."""
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    return copy


def test_a_saved_cookie_no_longer_opens_the_judge_pages_after_logout(app, client, make_user, login):
    make_user("judge-out")
    login("judge-out")
    saved = _saved_cookie(client)
    assert _with_cookie(app, saved).get("/judge").status_code == 200
    assert client.post("/logout").status_code == 303
    assert _with_cookie(app, saved).get("/judge").status_code == 303
    assert client.get("/judge").status_code == 303


def test_logout_ends_the_sessions_on_every_device(app, client, make_user, login):
    """A judge on a laptop and a tablet who signs out on one is signed out on both: a
    session left open on a venue machine ends when its owner signs out anywhere."""
    make_user("judge-two")
    login("judge-two")
    tablet = app.test_client()
    assert _sign_in(tablet, "judge-two", PASSWORD) == 303
    client.post("/logout")
    assert tablet.get("/judge").status_code == 303
    assert _sign_in(tablet, "judge-two", PASSWORD) == 303  # signing in again works
    assert tablet.get("/judge").status_code == 200


def test_a_password_reset_ends_every_copy_of_the_old_sessions(app, client, make_user, login):
    user_id = make_user("judge-copy")
    login("judge-copy")
    saved = _saved_cookie(client)
    with app.app_context():
        accounts.set_password(db.session.get(User, user_id), "a brand new password")
        db.session.commit()
    assert _with_cookie(app, saved).get("/judge").status_code == 303
    assert _sign_in(client, "judge-copy", "a brand new password") == 303
    assert _with_cookie(app, saved).get("/judge").status_code == 303
