"""Korean first, English on a visible switch: every page, message and error in both."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from .conftest import entry_form
from .photos import photo_bytes

HANGUL = re.compile(r"[가-힣]")
CATALOGUE = Path(__file__).parents[1] / "contest" / "translations" / "en" / "LC_MESSAGES"


def _english(client) -> None:
    response = client.get("/language/en", query_string={"next": "/"})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def _hangul_in(page: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Korean text left on a page, ignoring the language switch's own name for Korean."""
    text = re.sub(r"<[^>]+>", " ", page).replace("한국어", "")
    for value in allowed:
        text = text.replace(value, "")
    return sorted(set(re.findall(r"\S*[가-힣]+\S*", text)))


def test_every_message_has_an_english_translation():
    with open(CATALOGUE / "messages.po", "rb") as po:
        catalogue = read_po(po)
    missing = [m.id for m in catalogue if m.id and not m.string]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert missing == [] and fuzzy == []


def test_every_message_in_the_code_is_in_the_catalogue(tmp_path):
    """A text added to the code but never put in the catalogue would show in Korean to
    English readers: extract as `make translations` does and compare."""
    root = Path(__file__).parents[1]
    template = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg"]
        + ["-k", "_l", "-k", "lazy_gettext", "-k", "translatable", "-o", str(template), "."],
        cwd=root,
        check=True,
        capture_output=True,
    )
    with open(template, "rb") as pot, open(CATALOGUE / "messages.po", "rb") as po:
        in_code = {m.id for m in read_po(pot) if m.id}
        translated = {m.id for m in read_po(po) if m.id}
    assert sorted(in_code - translated) == []


def test_korean_is_the_default(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="ko">' in page and "응모하기" in page


@pytest.mark.parametrize("path", ["/", "/submit", "/login", "/winners", "/receipt/ABCDEFGHJKMNP"])
def test_the_english_switch_changes_the_whole_page(client, path):
    _english(client)
    page = client.get(path).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert _hangul_in(page) == []
    client.get("/language/ko")
    assert HANGUL.search(client.get(path).get_data(as_text=True))


def test_the_browser_language_decides_without_a_switch(client):
    page = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    korean = client.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    assert '<html lang="ko">' in korean.get_data(as_text=True)


def test_form_errors_and_refusals_come_in_english(client):
    _english(client)
    response = client.post(
        "/submit",
        data=entry_form(title="", media=photo_bytes(size=(640, 480))),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    errors = response.get_json()["errors"]
    assert response.status_code == 400 and not HANGUL.search(" ".join(errors["title"]))
    refused = client.post(
        "/submit",
        data=entry_form(title="Morning at COEX", media=photo_bytes(size=(640, 480))),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    message = refused.get_json()["errors"]["media"][0]
    assert refused.status_code == 422 and "1000" in message and not HANGUL.search(message)


def test_the_receipt_in_english_names_the_weekday_in_english(client, submit):
    location = submit(title="Morning at COEX", name="Hong", description="").headers["Location"]
    _english(client)
    page = client.get(location).get_data(as_text=True)
    assert re.search(r"\d{4}-\d\d-\d\d \((Mon|Tue|Wed|Thu|Fri|Sat|Sun)\) \d\d:\d\d", page)
    assert _hangul_in(page) == []


def test_error_pages_are_translated(make_app):
    app = make_app(WTF_CSRF_ENABLED=True, MAX_CONTENT_LENGTH=50_000)
    client = app.test_client()
    _english(client)
    for response in (
        client.get("/nowhere"),
        client.post("/submit", data=entry_form(), content_type="multipart/form-data"),  # 413
        client.post("/submit", data={"title": "x"}),  # no CSRF token: 400
    ):
        assert response.status_code in (400, 404, 413)
        assert _hangul_in(response.get_data(as_text=True)) == []


def test_staff_pages_are_translated(client, judge, make_entry):
    entry_id = make_entry(title="Sunrise", description="At the booth")
    _english(client)
    for path in ("/judge", f"/judge/entries/{entry_id}"):
        page = client.get(path).get_data(as_text=True)
        assert _hangul_in(page, allowed=("judge-kim",)) == [], path


def test_admin_pages_are_translated(client, admin, make_entry):
    entry_id = make_entry(title="Sunrise", description="At the booth")
    _english(client)
    paths = (
        "/admin",
        "/admin/entries",
        f"/admin/entries/{entry_id}",
        "/admin/judges",
        "/admin/rounds",
        "/admin/leaderboard",
        "/admin/judging",
        "/admin/awards",
        "/admin/audit",
    )
    for path in paths:
        page = client.get(path).get_data(as_text=True)
        # Entrants' names are user content; the test entry's were made Korean by the factory.
        assert _hangul_in(page, allowed=("응모자1", "organiser-lee")) == [], path
