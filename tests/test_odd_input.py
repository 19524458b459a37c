"""Hostile or odd requests get a 4xx or a redirect, never a 500; a busy or full server says so.

Points 4, 8 and 9 of the hostile-crowd review: withdrawals under write load, out-of-range
numbers and control characters in URLs, and a full disk while an upload is received.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from contest.core.database import begin_write
from contest.core.extensions import db
from contest.models import Entry
from contest.services.audit import audit
from contest.storage import get_storage

from .conftest import PASSWORD, entry_form, stored_files

HUGE = "99999999999999999999"  # past 64 bits


# --- 4. Every writing route takes the write lock ------------------------------------------


def test_a_withdrawal_waits_for_another_writer_instead_of_failing(app, client, submit):
    receipt = submit().headers["Location"].rsplit("/", 1)[-1]
    holding, done = threading.Event(), threading.Event()

    def another_writer() -> None:
        """A judge's score or a visitor's upload, holding the write lock for a second."""
        with app.app_context():
            begin_write()
            audit(None, "test-long-write", "x:1", None, None)
            holding.set()
            time.sleep(1)
            db.session.commit()
            done.set()

    writer = threading.Thread(target=another_writer)
    writer.start()
    holding.wait(5)
    started = time.monotonic()
    response = client.post(f"/receipt/{receipt}/withdraw")
    writer.join()
    assert response.status_code == 303  # not "database is locked"
    assert done.is_set() and time.monotonic() - started >= 0.5  # it waited its turn
    with app.app_context():
        assert db.session.scalar(select(func.count(Entry.id))) == 0


# --- 8. Odd input: 400, 404 or a redirect ------------------------------------------------


@pytest.mark.parametrize("next_path", ["/%0D%0ASet-Cookie:%20x=1", "/%0AX", "/judge%09x", "/%7F"])
def test_a_language_switch_with_control_characters_in_next_goes_home(client, next_path):
    response = client.get(f"/language/en?next={next_path}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_a_login_with_a_crlf_in_next_goes_to_the_staff_home(app, client, make_user):
    make_user("judge-crlf")
    response = client.post(
        "/login",
        data={"username": "judge-crlf", "password": PASSWORD, "next": "/judge\r\nX-Evil: 1"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/judge"


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/entries?page={HUGE}",
        f"/admin/audit?page={HUGE}",
        f"/admin/leaderboard?page={HUGE}&category=1",
        f"/admin/leaderboard?category={HUGE}",
        f"/admin/leaderboard?round={HUGE}",
        "/admin/entries?page=-3",
        f"/admin/entries?page={'9' * 5000}",
    ],
)
def test_out_of_range_numbers_in_admin_lists_are_a_400(client, admin, path):
    assert client.get(path).status_code == 400


def test_out_of_range_page_on_the_judges_list_is_a_400(client, judge):
    assert client.get(f"/judge?page={HUGE}").status_code == 400


@pytest.mark.parametrize(
    "path", [f"/admin/entries/{HUGE}", f"/admin/rounds/{HUGE}/close", f"/judge/entries/{HUGE}"]
)
def test_out_of_range_ids_in_paths_are_not_found(client, admin, make_user, path):
    assert client.get(path).status_code in (403, 404)


def test_out_of_range_ids_are_not_found_for_judges_either(client, judge):
    assert client.get(f"/judge/entries/{HUGE}").status_code == 404
    assert client.get(f"/judge/entries/{HUGE}/full").status_code == 404


def test_a_page_that_is_not_a_number_is_the_first_page(client, admin):
    assert client.get("/admin/entries?page=abc").status_code == 200


# --- 9. A full disk: "not received", never "safe" ----------------------------------------


@pytest.fixture
def full_disk(app, monkeypatch):
    """Spooled uploads go to /dev/full: every write fails with ENOSPC, as on a full disk."""
    with app.app_context():
        storage = get_storage()

    def temp_file():
        path = storage.tmp / "upload-on-a-full-disk.part"
        return path, open("/dev/full", "wb+")  # noqa: SIM115 - closed by the request

    monkeypatch.setattr(storage, "temp_file", temp_file)


def test_an_upload_onto_a_full_disk_is_not_received_and_says_so(
    app, client, full_disk, upload_folder
):
    response = client.post("/submit", data=entry_form(), content_type="multipart/form-data")
    assert response.status_code == 507
    page = response.get_data(as_text=True)
    assert "접수되지 않았" in page and "안전합니다" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Entry.id))) == 0
    assert stored_files(upload_folder) == []


def test_a_full_disk_answers_json_for_the_upload_script(app, client, full_disk):
    response = client.post(
        "/submit",
        data=entry_form(),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 507
    assert "접수되지 않았" in response.get_json()["errors"]["media"][0]


def test_the_dashboard_warns_when_the_upload_disk_runs_low(app, client, admin):
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="disk-low"' not in page
    app.config["DISK_FREE_WARNING_BYTES"] = 2**62  # more than any disk has free
    page = client.get("/admin").get_data(as_text=True)
    assert 'id="disk-low"' in page and "저장 공간이" in page
