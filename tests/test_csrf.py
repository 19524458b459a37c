"""With CSRF protection on, as in production: forms carry a token, and a missing one is a 400."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import csrf_token, entry_form, stored_files


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
