"""A visitor enters a photo: the submission contract, from the form to the receipt."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from contest.core.extensions import db
from contest.models import Contest, Entry, utcnow
from contest.services.receipts import ALPHABET, LENGTH

from .conftest import entry_form, stored_files
from .photos import photo_bytes, photo_image, photoshop_mac_jpeg

RECEIPT_URL = re.compile(rf"^/receipt/([{ALPHABET}]{{{LENGTH}}})$")


def entries_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Entry.id)))


def the_entry(app) -> Entry:
    with app.app_context():
        entry = db.session.scalars(select(Entry)).one()
        _ = entry.assets, entry.category  # load before the session closes
        return entry


def assert_nothing_stored(app, upload_folder):
    assert entries_count(app) == 0
    assert stored_files(upload_folder) == []


def test_landing_page_shows_the_contest_and_the_way_in(client):
    page = client.get("/").get_data(as_text=True)
    assert "정부3.0 체험마당 UCC 공모전" in page
    assert "응모 기간" in page and "시상" in page and "대상" in page
    assert 'href="/submit"' in page


def test_form_offers_every_field_and_lets_phones_pick_camera_or_library(client):
    page = client.get("/submit").get_data(as_text=True)
    for name in (
        "title",
        "description",
        "name",
        "email",
        "phone",
        "consent",
        "consent_publish",
        "under14",
        "guardian_name",
        "guardian_phone",
        "guardian_consent",
        "media",
    ):
        assert f'name="{name}"' in page, name
        assert f'<label for="{name}"' in page, name
    assert 'enctype="multipart/form-data"' in page
    assert 'accept="image/*,video/*,.heic,.heif"' in page
    # The consent notice states purpose, items, retention and the right to refuse.
    for words in ("수집 목적", "수집 항목", "보유 기간", "거부할 수 있습니다"):
        assert words in page


def test_accepted_photo_redirects_to_its_receipt_and_keeps_the_original_untouched(
    app, submit, upload_folder
):
    sent = photo_bytes(seed=7)
    response = submit(media=sent, filename="코엑스 사진.jpg")

    assert response.status_code == 303
    code = RECEIPT_URL.match(response.headers["Location"]).group(1)
    entry = the_entry(app)
    assert entry.receipt == code
    assert entry.phone == "+821012345678"
    assert entry.email == "gildong.hong@example.com"
    assert entry.category.kind == "photo"
    assert entry.original_filename == "코엑스 사진.jpg"
    assert (entry.width, entry.height, entry.media_format) == (1200, 900, "JPEG")
    assert entry.consent_version == app.config["CONSENT_NOTICE_VERSION"]
    assert abs(entry.consented_at - utcnow()) < timedelta(minutes=1)
    original = next(a for a in entry.assets if a.role == "original")
    assert (upload_folder / original.key).read_bytes() == sent
    assert "코엑스" not in original.key and original.key.endswith(".jpg")
    assert {a.role for a in entry.assets} == {"original", "preview", "thumbnail"}
    assert not list((upload_folder / "tmp").iterdir())


def test_receipt_page_shows_thumbnail_title_category_status_and_korean_time(app, client, submit):
    location = submit(title="행사장 풍경").headers["Location"]
    page = client.get(location).get_data(as_text=True)
    entry = the_entry(app)
    thumb = next(a for a in entry.assets if a.role == "thumbnail")
    assert f'<img class="thumb" src="/media/{thumb.key}"' in page
    assert "행사장 풍경" in page and "사진" in page and "접수 완료" in page
    assert entry.receipt_display in page
    seoul = entry.created_at + timedelta(hours=9)
    assert seoul.strftime("%Y-%m-%d") in page and seoul.strftime("%H:%M") in page


def test_json_callers_get_201_with_the_receipt(app, submit):
    response = submit(json=True)
    assert response.status_code == 201
    body = response.get_json()
    assert body["url"] == f"/receipt/{body['receipt']}"
    assert the_entry(app).receipt == body["receipt"]


@pytest.mark.parametrize(
    ("fmt", "save_args", "stored_as"),
    [
        ("PNG", {}, ".png"),
        ("WEBP", {"quality": 90}, ".webp"),
        ("HEIF", {"quality": 80}, ".heic"),
    ],
)
def test_png_webp_and_iphone_heic_are_accepted(
    app, submit, upload_folder, fmt, save_args, stored_as
):
    response = submit(media=photo_bytes(fmt, **save_args), filename="IMG_0001" + stored_as)
    assert response.status_code == 303, response.get_data(as_text=True)
    entry = the_entry(app)
    original = next(a for a in entry.assets if a.role == "original")
    assert original.key.endswith(stored_as)
    preview = next(a for a in entry.assets if a.role == "preview")
    with Image.open(upload_folder / preview.key) as im:
        assert im.format == "JPEG" and im.size == (1200, 900)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "작품 제목을 입력해 주세요."),
        ("title", "가" * 81, "제목은 80자 이내로 써 주세요."),
        ("description", "나" * 1001, "설명은 1000자 이내로 써 주세요."),
        ("name", "", "이름을 입력해 주세요."),
        ("email", "not-an-address", "이메일 주소를 확인해 주세요."),
        ("phone", "12345", "전화번호를 확인해 주세요."),
        ("phone", "", "휴대전화 번호를 입력해 주세요."),
        ("consent", None, "개인정보 수집·이용에 동의해야 응모할 수 있습니다."),
    ],
)
def test_form_errors_show_next_to_the_field_keep_the_typed_values_and_store_nothing(
    app, submit, upload_folder, field, value, message
):
    response = submit(**{field: value, "title": value if field == "title" else "내 작품"})
    page = response.get_data(as_text=True)

    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    assert message in error.group(1)
    assert 'aria-invalid="true"' in page
    if field != "name":
        assert 'value="홍길동"' in page  # what the visitor typed is still there
    assert_nothing_stored(app, upload_folder)


def test_json_callers_get_field_errors(app, submit):
    response = submit(json=True, title="", phone="abc")
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert errors["title"] == ["작품 제목을 입력해 주세요."]
    assert "전화번호를 확인해 주세요" in errors["phone"][0]


def test_international_numbers_are_accepted_and_normalised(app, submit):
    assert submit(phone="+44 20 7946 0958").status_code == 303
    assert the_entry(app).phone == "+442079460958"


def test_a_refused_form_gives_the_phone_numbers_back_as_typed(submit):
    response = submit(
        title="",  # refused for another field
        phone="010 1234 5678",
        under14="y",
        guardian_name="홍판서",
        guardian_phone="02-987-6543",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="010 1234 5678"' in page and 'value="02-987-6543"' in page
    assert "+8210" not in page and "+822" not in page


def test_under_14_needs_a_guardian_and_their_consent(app, submit, upload_folder):
    response = submit(under14="y", json=True)
    assert response.status_code == 400
    assert set(response.get_json()["errors"]) == {
        "guardian_name",
        "guardian_phone",
        "guardian_consent",
    }
    assert_nothing_stored(app, upload_folder)

    response = submit(
        under14="y", guardian_name="홍판서", guardian_phone="010 9876 5432", guardian_consent="y"
    )
    assert response.status_code == 303
    entry = the_entry(app)
    assert entry.under14 and entry.guardian_name == "홍판서"
    assert entry.guardian_phone == "+821098765432"
    assert entry.guardian_consented_at is not None


def test_guardian_fields_are_not_kept_for_entrants_aged_14_or_more(app, submit):
    assert submit(guardian_name="누군가", guardian_phone="010-1111-2222").status_code == 303
    entry = the_entry(app)
    assert not entry.under14 and entry.guardian_name is None and entry.guardian_phone is None


def test_optional_publication_consent_is_stored_separately(app, submit):
    submit(consent_publish="y")
    assert the_entry(app).consent_publish is True


def test_missing_file_is_asked_for(app, submit, upload_folder):
    response = submit(json=True, media=b"", filename="")
    assert response.status_code == 400
    assert response.get_json()["errors"]["media"] == ["사진이나 영상 파일을 선택해 주세요."]
    assert_nothing_stored(app, upload_folder)


def test_empty_file_is_refused(app, submit, upload_folder):
    response = submit(json=True, media=b"", filename="empty.jpg")
    assert response.status_code == 400
    assert "비어 있습니다" in response.get_json()["errors"]["media"][0]
    assert_nothing_stored(app, upload_folder)


def _saved_as(fmt: str) -> bytes:
    out = io.BytesIO()
    photo_image().save(out, fmt)
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"></svg>'
HTML = b"<!doctype html><html><script>alert(1)</script></html>"

# What each file holds, made when its test runs: as parameters, the bytes themselves became the
# tests' names (7 MB for the BMP), which every worker built, sent and compared at collection.
NOT_PHOTOS = {
    "photo.gif": lambda: _saved_as("GIF"),
    "renamed.jpg": lambda: _saved_as("GIF"),
    "scan.jpg": lambda: _saved_as("TIFF"),
    "paint.bmp": lambda: _saved_as("BMP"),
    "logo.svg": lambda: SVG,
    "evil.jpg": lambda: HTML,
    "shell.php": lambda: b"<?php phpinfo();",
    "a.png": lambda: b"MZ\x90\x00" + b"\x00" * 500,
    "photos.zip": lambda: b"PK\x03\x04" + b"\x00" * 100,
    "poster.pdf": lambda: b"%PDF-1.7\n" + b"0" * 200,
}


@pytest.mark.parametrize("filename", NOT_PHOTOS)
def test_files_that_are_not_supported_photos_are_refused_by_content(
    app, submit, upload_folder, filename
):
    response = submit(json=True, media=NOT_PHOTOS[filename](), filename=filename)
    assert response.status_code == 415
    assert "JPG, PNG, WebP, HEIC" in response.get_json()["errors"]["media"][0]
    assert_nothing_stored(app, upload_folder)


def test_browser_content_type_is_ignored(app, client):
    data = entry_form()
    data["media"] = (io.BytesIO(photo_bytes()), "photo.jpg", "application/x-msdownload")
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 303


def test_polyglot_jpeg_with_html_is_refused(app, submit, upload_folder):
    polyglot = photo_bytes() + b"<html><script>alert(1)</script></html>"
    response = submit(json=True, media=polyglot)
    assert response.status_code == 422
    assert_nothing_stored(app, upload_folder)


def test_photoshop_mac_photo_with_a_print_settings_plist_is_accepted(app, submit, upload_folder):
    # Its APP13 block holds `<?xml ...?><!DOCTYPE plist ...>`: a doctype, but not HTML.
    photo = photoshop_mac_jpeg()
    assert b"<!DOCTYPE plist" in photo
    response = submit(json=True, media=photo)
    assert response.status_code == 201, response.get_data(as_text=True)
    entry = the_entry(app)
    stored = upload_folder / entry.asset("original").key
    assert stored.read_bytes() == photo  # the original is kept untouched, plist and all


def test_photoshop_photo_hiding_an_html_doctype_is_still_refused(app, submit, upload_folder):
    response = submit(json=True, media=photoshop_mac_jpeg(plist=b"<!DOCTYPE html><p>hi"))
    assert response.status_code == 422
    assert_nothing_stored(app, upload_folder)


def test_truncated_photo_is_refused_as_damaged(app, submit, upload_folder):
    whole = photo_bytes()
    response = submit(json=True, media=whole[: len(whole) // 2])
    assert response.status_code == 422
    assert "손상" in response.get_json()["errors"]["media"][0]
    assert_nothing_stored(app, upload_folder)


def test_truncated_heic_is_refused_as_damaged(app, submit, upload_folder):
    whole = photo_bytes("HEIF")
    response = submit(json=True, media=whole[: len(whole) * 2 // 3], filename="IMG_1.HEIC")
    assert response.status_code == 422
    assert_nothing_stored(app, upload_folder)


def _png_header_only(width: int, height: int) -> bytes:
    """A 'decompression bomb': a tiny PNG whose header claims a huge picture."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [12000, 20000])
def test_decompression_bombs_are_refused_without_decoding(app, submit, upload_folder, side):
    response = submit(json=True, media=_png_header_only(side, side), filename="bomb.png")
    assert response.status_code == 422
    assert "해상도가 너무 큽니다" in response.get_json()["errors"]["media"][0]
    assert_nothing_stored(app, upload_folder)


def test_photos_below_the_minimum_resolution_are_refused(app, submit, upload_folder):
    response = submit(json=True, media=photo_bytes(size=(640, 480)))
    assert response.status_code == 422
    message = response.get_json()["errors"]["media"][0]
    assert "1000" in message and "640" in message
    assert_nothing_stored(app, upload_folder)


def test_minimum_resolution_is_a_setting(make_app):
    app = make_app(PHOTO_MIN_LONG_SIDE=500)
    response = app.test_client().post(
        "/submit",
        data=entry_form(media=photo_bytes(size=(640, 480))),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303


def test_photo_over_the_size_limit_gets_413_next_to_the_file_field(make_app):
    app = make_app(PHOTO_MAX_BYTES=50_000, MAX_CONTENT_LENGTH=10_000_000)
    response = app.test_client().post(
        "/submit", data=entry_form(), content_type="multipart/form-data"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert re.search(r'id="media-error">파일이 너무 큽니다', page)
    assert 'value="홍길동"' in page


def test_request_over_max_content_length_gets_a_friendly_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=50_000)
    client = app.test_client()
    page = client.post("/submit", data=entry_form(), content_type="multipart/form-data")
    assert page.status_code == 413
    assert "파일이 너무 큽니다" in page.get_data(as_text=True)
    as_json = client.post(
        "/submit",
        data=entry_form(),
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert as_json.status_code == 413
    assert "파일이 너무 큽니다" in as_json.get_json()["errors"]["media"][0]
    assert stored_files(Path(app.config["UPLOAD_FOLDER"])) == []


def test_the_request_limits_follow_the_photo_limit_by_default(app):
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["PHOTO_MAX_BYTES"]
    assert app.config["MAX_FORM_PARTS"] <= 100
    assert app.config["MAX_FORM_MEMORY_SIZE"] <= 256 * 1024


def test_a_huge_text_field_is_refused_naming_the_field_not_a_photo(app, client, upload_folder):
    data = entry_form(title="가" * 700_000)  # 2 MB of UTF-8
    response = client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "입력한 글이 너무 깁니다: 한 칸에 256 KB까지" in page
    assert "사진은" not in page and "해상도를 낮추거나" not in page
    as_json = client.post(
        "/submit",
        data=entry_form(title="가" * 700_000),
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert as_json.status_code == 413
    assert as_json.get_json()["errors"]["title"][0].startswith("입력한 글이 너무 깁니다")
    assert_nothing_stored(app, upload_folder)


def test_too_many_form_parts_are_refused_saying_so(client):
    data = entry_form()
    data.update({f"junk{i}": "x" for i in range(5000)})
    response = client.post(
        "/submit",
        data=data,
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.get_json()["errors"] == {
        "_form": ["보낸 입력 항목이 너무 많습니다: 한 번에 50개까지 보낼 수 있습니다."]
    }


def test_a_request_over_max_content_length_names_both_limits_and_its_size(make_app):
    """A 900 MB video is refused from its Content-Length, before a byte is read."""
    app = make_app()
    size = 900 * 1024 * 1024
    response = app.test_client().post(
        "/submit",
        input_stream=io.BytesIO(b""),
        headers={"Accept": "application/json"},
        environ_overrides={"CONTENT_LENGTH": str(size)},
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 413
    message = response.get_json()["errors"]["media"][0]
    assert "사진은 40 MB, 영상은 500 MB까지" in message and "900 MB" in message


def test_each_entrant_may_enter_a_limited_number_of_times(make_app):
    app = make_app(MAX_ENTRIES_PER_ENTRANT=2)
    client = app.test_client()

    def send(seed, phone, email):
        return client.post(
            "/submit",
            data=entry_form(media=photo_bytes(seed=seed), phone=phone, email=email),
            content_type="multipart/form-data",
            headers={"Accept": "application/json"},
        )

    assert send(1, "010-1234-5678", "a@example.com").status_code == 201
    assert send(2, "010-1234-5678", "b@example.com").status_code == 201
    by_phone = send(3, "01012345678", "c@example.com")  # the same phone, typed differently
    assert send(4, "010-5555-6666", "A@Example.com").status_code == 201
    by_email = send(5, "010-7777-8888", "a@EXAMPLE.com")  # a@ now has two entries
    for refused in (by_phone, by_email):
        assert refused.status_code == 409
        assert "2개 작품까지" in refused.get_json()["errors"]["_form"][0]
    assert send(6, "010-9999-0000", "new@example.com").status_code == 201
    assert entries_count(app) == 4


def test_the_same_photo_twice_is_refused(app, submit, upload_folder):
    photo = photo_bytes(seed=3)
    assert submit(media=photo).status_code == 303
    files_before = stored_files(upload_folder)
    response = submit(json=True, media=photo, phone="010-2222-3333", email="b@example.com")
    assert response.status_code == 409
    assert "이미 응모된" in response.get_json()["errors"]["media"][0]
    assert entries_count(app) == 1
    assert stored_files(upload_folder) == files_before


@pytest.mark.parametrize(
    ("opens", "closes", "message"),
    [(1, 30, "아직 응모 기간이 아닙니다"), (-30, -1, "응모 기간이 끝났습니다")],
)
def test_entries_outside_the_submission_window_are_refused(
    app, submit, upload_folder, opens, closes, message
):
    with app.app_context():
        contest = db.session.scalars(select(Contest)).one()
        contest.opens_at = utcnow() + timedelta(days=opens)
        contest.closes_at = utcnow() + timedelta(days=closes)
        db.session.commit()
    response = submit(json=True)
    assert response.status_code == 403
    assert message in response.get_json()["errors"]["_form"][0]
    assert_nothing_stored(app, upload_folder)


def test_file_names_are_only_display_text(app, client, submit, upload_folder):
    hostile = "<img src=x onerror=alert(1)>.jpg"
    location = submit(media=photo_bytes(), filename=hostile).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    for path in stored_files(upload_folder):
        assert "onerror" not in path


def test_withdrawing_deletes_the_entry_and_every_file(app, client, submit, upload_folder):
    location = submit().headers["Location"]
    assert len(stored_files(upload_folder)) == 3
    confirm = client.get(location + "/withdraw")
    assert confirm.status_code == 200 and "삭제" in confirm.get_data(as_text=True)

    response = client.post(location + "/withdraw")
    assert response.status_code == 303
    assert_nothing_stored(app, upload_folder)


def test_a_withdrawn_code_answers_410_keeping_only_a_keyed_hash(app, client, submit):
    location = submit().headers["Location"]
    code = RECEIPT_URL.match(location).group(1)
    client.post(location + "/withdraw")

    for path in (location, location + "/withdraw", location + "/status"):
        gone = client.get(path)
        assert gone.status_code == 410, path
    page = client.get(location).get_data(as_text=True)
    assert "취소된 응모입니다" in page and "찾는 페이지가 없습니다" not in page
    typed = client.get("/receipt", query_string={"code": code.lower()}, follow_redirects=True)
    assert typed.status_code == 410
    as_json = client.get(location, headers={"Accept": "application/json"})
    assert as_json.status_code == 410 and "취소되어" in as_json.get_json()["errors"]["_form"][0]
    assert client.get("/receipt/ABCDEFGHJKMNP").status_code == 404  # never existed
    with app.app_context():
        kept = db.session.execute(text("SELECT * FROM withdrawn_receipt")).all()
    assert len(kept) == 1 and len(kept[0]) == 1  # one column: the digest, nothing else
    digest = kept[0][0]
    assert re.fullmatch(r"[0-9a-f]{64}", digest) and code not in digest
    assert digest != hashlib.sha256(code.encode()).hexdigest()  # keyed, not a bare hash


def test_receipt_codes_can_be_typed_back_loosely(app, client, submit):
    code = RECEIPT_URL.match(submit().headers["Location"]).group(1)
    typed = f"{code[:4]}-{code[4:8]}-{code[8:]}".lower()
    response = client.get("/receipt", query_string={"code": f" {typed} "})
    assert response.headers["Location"] == f"/receipt/{code}"


def test_a_wrong_code_keeps_what_was_typed_with_the_error_beside_the_field(client):
    response = client.get("/receipt", query_string={"code": "abcd-wxyz-2345"})
    assert response.status_code == 404  # the landing page again, not a redirect
    page = response.get_data(as_text=True)
    assert 'value="abcd-wxyz-2345"' in page
    assert re.search(r'id="code-error">접수번호를 찾을 수 없습니다', page)
    assert 'aria-invalid="true"' in page
    assert "flash" not in page


def test_unknown_receipt_is_a_friendly_404(client):
    response = client.get("/receipt/ABCDEFGHJKMNP")
    assert response.status_code == 404
    assert "찾는 페이지가 없습니다" in response.get_data(as_text=True)


def test_receipt_codes_are_unguessable(app, submit):
    codes = set()
    for seed in range(3):
        location = submit(
            media=photo_bytes(seed=seed + 10),
            phone=f"010-1234-000{seed}",
            email=f"p{seed}@example.com",
        ).headers["Location"]
        codes.add(RECEIPT_URL.match(location).group(1))
    assert len(codes) == 3
    assert len(ALPHABET) ** LENGTH >= 2**60
    assert not set("01OIL") & set(ALPHABET)


def test_a_failed_insert_leaves_no_file(app, submit, upload_folder):
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(_PG_RAISE.format(name="refuse_assets", error="disk full")))
            db.session.execute(
                text(
                    "CREATE TRIGGER refuse_assets BEFORE INSERT ON asset "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_assets()"
                )
            )
        else:
            db.session.execute(
                text(
                    "CREATE TRIGGER refuse_assets BEFORE INSERT ON asset "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                )
            )
        db.session.commit()
    with pytest.raises(Exception, match="disk full"):
        submit()
    assert_nothing_stored(app, upload_folder)


# A trigger function that fails with a foreign-key violation (SQLSTATE 23503).
_PG_RAISE = (
    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION '{error}' USING ERRCODE = 'foreign_key_violation'; END $$"
)


def test_a_failed_commit_leaves_no_file(app, submit, upload_folder):
    # A check deferred to COMMIT: the rows flush, then the commit fails.
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            db.session.execute(
                text(_PG_RAISE.format(name="dangling_asset", error="FOREIGN KEY at commit"))
            )
            db.session.execute(
                text(
                    "CREATE CONSTRAINT TRIGGER dangling_asset AFTER INSERT ON asset "
                    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.role = 'thumbnail') "
                    "EXECUTE FUNCTION dangling_asset()"
                )
            )
        else:
            db.session.execute(
                text(
                    "CREATE TRIGGER dangling_asset AFTER INSERT ON asset "
                    "WHEN NEW.role = 'thumbnail' BEGIN INSERT INTO asset "
                    "(entry_id, role, key, content_type, size) "
                    "VALUES (999999, 'original', 'dangling/' || NEW.id, 'x', 0); END"
                )
            )
        db.session.commit()

    def defer_foreign_keys(conn):
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")

    event.listen(engine, "begin", defer_foreign_keys)
    try:
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            submit()
    finally:
        event.remove(engine, "begin", defer_foreign_keys)
    assert_nothing_stored(app, upload_folder)
