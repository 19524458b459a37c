"""Security headers, cookies, proxies and rate limits on the real app."""

from __future__ import annotations

import pytest

from .conftest import entry_form
from .photos import photo_bytes


@pytest.mark.parametrize("path", ["/", "/submit", "/login", "/receipt/ABCDEFGHJKMNP"])
def test_every_page_carries_the_security_headers(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp  # falls back to 'self'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here


def test_media_responses_carry_them_too(app, client, submit):
    submit()
    with app.app_context():
        from sqlalchemy import select

        from contest.core.extensions import db
        from contest.models import Asset

        key = db.session.scalar(select(Asset.key).where(Asset.role == "thumbnail"))
    with client.get(f"/media/{key}") as response:
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_no_page_uses_inline_script_or_style(client, judge, make_entry):
    entry_id = make_entry()
    for path in ("/", "/submit", f"/judge/entries/{entry_id}", "/judge"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and " style=" not in page and "onclick=" not in page


def test_hsts_over_https_behind_one_trusted_proxy(make_app):
    app = make_app(PROXY_FIX_HOPS=1, SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    response = client.get(
        "/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    )
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookies_are_httponly_and_samesite_lax(client, make_user):
    make_user("judge-cookie")
    response = client.post(
        "/login", data={"username": "judge-cookie", "password": "correct horse battery"}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests; SESSION_COOKIE_SECURE behind HTTPS


def test_session_cookies_are_secure_when_configured(make_app):
    from contest.core.extensions import db
    from contest.services import accounts

    app = make_app(SESSION_COOKIE_SECURE=True)
    with app.app_context():
        accounts.create_user("judge-secure", "judge", "correct horse battery")
        db.session.commit()
    response = app.test_client().post(
        "/login", data={"username": "judge-secure", "password": "correct horse battery"}
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_uploads_are_rate_limited_per_address_with_a_friendly_429(make_app):
    app = make_app(SUBMIT_RATE_LIMIT="2 per minute")
    client = app.test_client()

    def send(seed):
        return client.post(
            "/submit",
            data=entry_form(
                media=photo_bytes(seed=seed),
                phone=f"010-4444-000{seed}",
                email=f"r{seed}@example.com",
            ),
            content_type="multipart/form-data",
            headers={"Accept": "application/json"},
        )

    assert send(1).status_code == 201
    assert send(2).status_code == 201
    limited = send(3)
    assert limited.status_code == 429
    assert "잠시 뒤에 다시" in limited.get_json()["errors"]["_form"][0]
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.9"  # another address is not affected
    response = other.post(
        "/submit",
        data=entry_form(media=photo_bytes(seed=4), phone="010-4444-0004", email="r4@example.com"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303


def test_rate_limits_can_be_switched_off(make_app):
    app = make_app(SUBMIT_RATE_LIMIT="1 per minute", RATELIMIT_ENABLED=False)
    client = app.test_client()
    for seed in (1, 2):
        response = client.post(
            "/submit",
            data=entry_form(
                media=photo_bytes(seed=seed),
                phone=f"010-5555-000{seed}",
                email=f"s{seed}@example.com",
            ),
            content_type="multipart/form-data",
        )
        assert response.status_code == 303
