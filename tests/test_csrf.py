"""With CSRF protection on, as in production: forms carry a token, and a missing one is a 400."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import csrf_token, entry_form, stored_files
from .photos import photo_bytes


@pytest.fixture
def csrf_app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


def test_the_form_posts_with_its_token_and_fails_kindly_without(csrf_app):
    client = csrf_app.test_client()
    folder = Path(csrf_app.config["UPLOAD_FOLDER"])

    refused = client.post("/submit", data=entry_form(), content_type="multipart/form-data")
    assert refused.status_code == 400
    assert "새로 고친 뒤 다시 제출해 주세요" in refused.get_data(as_text=True)
    as_json = client.post(
        "/submit",
        data=entry_form(),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert as_json.status_code == 400 and "csrf_token" in as_json.get_json()["errors"]
    assert stored_files(folder) == []

    token = csrf_token(client.get("/submit").get_data(as_text=True))
    accepted = client.post(
        "/submit", data=entry_form(csrf_token=token), content_type="multipart/form-data"
    )
    assert accepted.status_code == 303


def test_withdrawing_needs_the_token_too(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client.get("/submit").get_data(as_text=True))
    receipt = client.post(
        "/submit", data=entry_form(csrf_token=token), content_type="multipart/form-data"
    ).headers["Location"]

    assert client.post(receipt + "/withdraw").status_code == 400
    assert client.get(receipt).status_code == 200  # still there

    confirm = client.get(receipt + "/withdraw").get_data(as_text=True)
    response = client.post(receipt + "/withdraw", data={"csrf_token": csrf_token(confirm)})
    assert response.status_code == 303
    assert client.get(receipt).status_code == 410


def test_a_kiosk_submits_as_json_following_the_operations_guide(make_app):
    """docs/OPERATIONS.md, "Submitting from a kiosk or script", step by step, over HTTPS."""
    app = make_app(WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True)
    kiosk = app.test_client()
    site = "https://contest.example.kr"
    headers = {"Accept": "application/json"}

    # Without the token: the 400 the guide says to answer by fetching one.
    refused = kiosk.post(
        f"{site}/submit", data=entry_form(), headers=headers, content_type="multipart/form-data"
    )
    assert refused.status_code == 400 and "csrf_token" in refused.get_json()["errors"]

    # 1. GET /submit/token: the token, and the session cookie it is bound to.
    answer = kiosk.get(f"{site}/submit/token")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    token = answer.get_json()["csrf_token"]
    assert kiosk.get_cookie("session", domain="contest.example.kr") is not None

    # 2. The entry with the cookie, X-CSRFToken and, over HTTPS, the site's own Referer.
    headers |= {"X-CSRFToken": token, "Referer": f"{site}/submit"}
    accepted = kiosk.post(
        f"{site}/submit", data=entry_form(), headers=headers, content_type="multipart/form-data"
    )
    assert accepted.status_code == 201, accepted.get_data(as_text=True)
    assert accepted.get_json()["url"] == f"/receipt/{accepted.get_json()['receipt']}"

    # One token serves the kiosk's session: the next visitor's entry goes in the same way.
    second = kiosk.post(
        f"{site}/submit",
        data=entry_form(media=photo_bytes(seed=5), phone="010-2222-3333", email="b@example.com"),
        headers=headers,
        content_type="multipart/form-data",
    )
    assert second.status_code == 201

    # The Referer is needed over HTTPS, as the guide warns.
    del headers["Referer"]
    assert kiosk.post(f"{site}/submit", data=entry_form(), headers=headers).status_code == 400
