"""Several works in one post (issue 15): uploaded each on its own (tus), entered once."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from contest.core.extensions import db
from contest.models import Entry, Upload

from .conftest import entry_form
from .photos import photo_bytes
from .test_tus import create, patch

JSON = {"Accept": "application/json"}


def _upload_whole(client, data: bytes) -> str:
    url = create(client, len(data)).headers["Location"]
    assert patch(client, url, 0, data).headers["Upload-Offset"] == str(len(data))
    return url.rsplit("/", 1)[1]


def _works_form(*works: tuple[str, str], **fields) -> dict:
    """The entrant's fields once, then `works-N-upload` and `works-N-title` for each work."""
    data = entry_form(**fields)
    for key in ("media", "title", "description"):
        data.pop(key, None)
    for index, (upload_id, title) in enumerate(works):
        data[f"works-{index}-upload"] = upload_id
        data[f"works-{index}-title"] = title
    return data


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_two_uploads_in_one_post_make_two_entries_and_one_receipt_page(app, client):
    first, second = photo_bytes(seed=1), photo_bytes(seed=2)
    a, b = _upload_whole(client, first), _upload_whole(client, second)
    data = _works_form((a, "아침"), (b, "저녁"))
    data["works-1-description"] = "두 번째 설명"
    response = client.post("/submit", data=data, headers=JSON)
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    codes = answer["receipts"]
    assert len(codes) == 2 and answer["url"] == "/receipts/" + ",".join(codes)
    with app.app_context():
        made = {e.receipt: e for e in db.session.scalars(select(Entry))}
        assert set(made) == set(codes)
        by_title = {e.title: e for e in made.values()}
        assert by_title["아침"].sha256 == hashlib.sha256(first).hexdigest()
        assert by_title["저녁"].sha256 == hashlib.sha256(second).hexdigest()
        assert by_title["저녁"].description == "두 번째 설명"
        assert {e.entrant_name for e in made.values()} == {"홍길동"}
        assert db.session.scalars(select(Upload)).all() == []

    page = client.get(answer["url"])
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "작품 2점이 접수되었습니다" in text and "아침" in text and "저녁" in text
    with app.app_context():
        for entry in db.session.scalars(select(Entry)):
            assert entry.receipt_display in text
            assert f'href="/receipt/{entry.receipt}"' in text


def test_the_plain_form_post_goes_to_the_receipts_page(app, client):
    a, b = _upload_whole(client, photo_bytes(seed=3)), _upload_whole(client, photo_bytes(seed=4))
    response = client.post("/submit", data=_works_form((a, "하나"), (b, "둘")))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/receipts/")
    assert _count(app, Entry) == 2


def test_the_receipts_page_lists_only_the_codes_in_its_address(app, client, submit):
    mine = submit(json=True, media=photo_bytes(seed=5)).get_json()["receipt"]
    other = submit(json=True, media=photo_bytes(seed=6), title="남의 작품").get_json()["receipt"]
    text = client.get(f"/receipts/{mine}").get_data(as_text=True)
    with app.app_context():
        display = db.session.scalar(select(Entry).where(Entry.receipt == other)).receipt_display
    assert "남의 작품" not in text and display not in text
    assert client.get(f"/receipts/{mine},AAAAAAAAAAAA").status_code == 404
    assert client.get("/receipts/nothing").status_code == 404


def test_over_the_limit_the_work_past_it_is_refused_and_nothing_is_created(make_app):
    app = make_app(MAX_ENTRIES_PER_ENTRANT=3)
    client = app.test_client()
    before = client.post("/submit", data=entry_form(media=photo_bytes(seed=7)), headers=JSON)
    assert before.status_code == 201
    ids = [_upload_whole(client, photo_bytes(seed=s)) for s in (8, 9, 10)]
    data = _works_form(*((i, f"작품 {n}") for n, i in enumerate(ids)))
    response = client.post("/submit", data=data, headers=JSON)
    assert response.status_code == 409
    errors = response.get_json()["errors"]
    assert list(errors) == ["works-2-upload"]
    assert "3개 작품까지" in errors["works-2-upload"][0]
    assert "2개만 더" in errors["works-2-upload"][0]
    assert _count(app, Entry) == 1
    assert _count(app, Upload) == 3  # every upload kept for the next try

    # Without the third work the same uploads go through.
    del data["works-2-upload"], data["works-2-title"]
    assert client.post("/submit", data=data, headers=JSON).status_code == 201
    assert _count(app, Entry) == 3
    assert _count(app, Upload) == 1


def test_one_refused_file_creates_nothing_and_is_named_next_to_its_fields(app, client):
    good = _upload_whole(client, photo_bytes(seed=11))
    tiny = _upload_whole(client, photo_bytes(size=(640, 480), seed=12))
    response = client.post(
        "/submit", data=_works_form((good, "좋은"), (tiny, "작은")), headers=JSON
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert list(errors) == ["works-1-upload"]
    assert "1000" in errors["works-1-upload"][0] and "640" in errors["works-1-upload"][0]
    assert _count(app, Entry) == 0
    with app.app_context():
        # The refused file is given up (the visitor picks another); the good one is kept.
        assert [u.id for u in db.session.scalars(select(Upload))] == [good]
    again = _upload_whole(client, photo_bytes(seed=13))
    retry = client.post("/submit", data=_works_form((good, "좋은"), (again, "큰")), headers=JSON)
    assert retry.status_code == 201, retry.get_json()
    assert _count(app, Entry) == 2


def test_the_same_file_twice_in_one_post_is_refused_at_the_second(app, client):
    photo = photo_bytes(seed=14)
    a, b = _upload_whole(client, photo), _upload_whole(client, photo)
    response = client.post("/submit", data=_works_form((a, "하나"), (b, "둘")), headers=JSON)
    assert response.status_code == 409
    assert list(response.get_json()["errors"]) == ["works-1-upload"]
    assert _count(app, Entry) == 0


def test_each_work_needs_its_title_and_the_entrant_fields_are_checked_once(app, client):
    a, b = _upload_whole(client, photo_bytes(seed=15)), _upload_whole(client, photo_bytes(seed=16))
    data = _works_form((a, "하나"), (b, ""), consent=None)
    response = client.post("/submit", data=data, headers=JSON)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert set(errors) == {"works-1-title", "consent"}
    assert _count(app, Entry) == 0 and _count(app, Upload) == 2
    # Without script the entry form comes back with the entrant's fields and the work's error.
    page = client.post("/submit", data=data)
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "작품 2: 작품 제목을 입력해 주세요." in text and 'value="홍길동"' in text
