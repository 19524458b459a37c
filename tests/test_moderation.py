"""Moderation: guards, the entry list and its filters, rejecting and restoring, escaping."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import AuditLog, Entry, Flag, Recusal, Round, Score, User, utcnow

from .conftest import PASSWORD, csrf_token

REASON = "행사와 관계없는 사진입니다."


def _entry(app, entry_id: int) -> Entry:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        db.session.expunge(entry)
        return entry


def _audits(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)))
        db.session.expunge_all()
        return rows


def _add_flag(app, entry_id: int, kind: str, dismissed: bool = False, **fields) -> int:
    with app.app_context():
        flag = Flag(entry_id=entry_id, kind=kind, detail=f"{kind} 확인", **fields)
        if dismissed:
            flag.dismissed_at = utcnow()
            flag.dismiss_reason = "괜찮음"
        db.session.add(flag)
        db.session.commit()
        return flag.id


def _signed_in(app, make_user, username: str, role: str = "judge"):
    """A second browser, signed in as a new staff member."""
    make_user(username, role=role)
    other = app.test_client()
    response = other.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303
    return other


def _listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-entry="(\d+)">', page)]


# --- CSRF ---------------------------------------------------------------------------------------


def test_with_csrf_on_a_post_without_the_token_changes_nothing(make_app, make_user, make_entry):
    app = make_app(WTF_CSRF_ENABLED=True)
    entry = make_entry("protected")
    flag = _add_flag(app, entry, "low-resolution")
    client = app.test_client()
    make_user("boss", role="admin")
    page = client.get("/login").get_data(as_text=True)
    data = {"username": "boss", "password": PASSWORD, "csrf_token": csrf_token(page)}
    assert client.post("/login", data=data).status_code == 303

    detail = client.get(f"/admin/entries/{entry}").get_data(as_text=True)
    assert detail.count('name="csrf_token"') >= 2  # the reject form and the dismiss form
    assert client.post(f"/admin/entries/{entry}/reject", data={"reason": REASON}).status_code == 400
    assert client.post(f"/admin/flags/{flag}/dismiss", data={"reason": "ok"}).status_code == 400
    assert _entry(app, entry).status == "submitted"

    token = re.search(r'name="csrf_token" value="([^"]+)"', detail).group(1)
    response = client.post(
        f"/admin/entries/{entry}/reject", data={"reason": REASON, "csrf_token": token}
    )
    assert response.status_code == 303
    assert _entry(app, entry).status == "rejected"


# --- rejecting and restoring --------------------------------------------------------------------


def test_rejecting_takes_an_entry_out_of_judging_and_restoring_puts_it_back(
    app, client, admin, make_user, make_entry
):
    entry = make_entry("moderated photo")
    kept = make_entry("kept photo")
    code = _entry(app, entry).receipt
    judge = _signed_in(app, make_user, "judge-park")

    def offered() -> set[str]:
        return {judge.get("/judge/next").headers["Location"] for _ in range(30)}

    assert offered() == {f"/judge/entries/{entry}", f"/judge/entries/{kept}"}
    assert "moderated photo" in client.get("/admin/leaderboard").get_data(as_text=True)

    response = client.post(f"/admin/entries/{entry}/reject", data={"reason": REASON})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/entries/{entry}"
    rejected = _entry(app, entry)
    assert rejected.status == "rejected" and rejected.rejected_reason == REASON
    assert rejected.rejected_at is not None
    (log,) = _audits(app, "reject-entry")
    assert log.target == f"entry:{entry}" and log.old == {"status": "submitted"}
    assert log.new == {"status": "rejected", "reason": REASON}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "작품을 반려했습니다" in page and REASON in page

    assert offered() == {f"/judge/entries/{kept}"}
    assert judge.get(f"/judge/entries/{entry}").status_code == 404
    assert "moderated photo" not in client.get("/admin/leaderboard").get_data(as_text=True)
    receipt = client.get(f"/receipt/{code}").get_data(as_text=True)
    assert "반려" in receipt and REASON in receipt

    response = client.post(f"/admin/entries/{entry}/restore")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/entries/{entry}"
    restored = _entry(app, entry)
    assert restored.status == "submitted"
    assert restored.rejected_reason is None and restored.rejected_at is None
    (log,) = _audits(app, "restore-entry")
    assert log.old == {"status": "rejected", "reason": REASON}
    assert log.new == {"status": "submitted"}

    assert offered() == {f"/judge/entries/{entry}", f"/judge/entries/{kept}"}
    assert judge.get(f"/judge/entries/{entry}").status_code == 200
    assert "moderated photo" in client.get("/admin/leaderboard").get_data(as_text=True)
    receipt = client.get(f"/receipt/{code}").get_data(as_text=True)
    assert "반려" not in receipt and REASON not in receipt and "접수 완료" in receipt


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501])
def test_rejecting_needs_a_reason_of_at_most_500_characters(app, client, admin, make_entry, reason):
    entry = make_entry()
    data = {} if reason is None else {"reason": reason}
    response = client.post(f"/admin/entries/{entry}/reject", data=data)
    assert response.status_code == 400
    assert "사유" in response.get_data(as_text=True)
    after = _entry(app, entry)
    assert after.status == "submitted" and after.rejected_reason is None
    assert _audits(app, "reject-entry") == []


def test_a_500_character_reason_is_kept_whole(app, client, admin, make_entry):
    entry = make_entry()
    reason = "가" * 500
    assert client.post(f"/admin/entries/{entry}/reject", data={"reason": reason}).status_code == 303
    assert _entry(app, entry).rejected_reason == reason


def test_rejecting_twice_or_restoring_a_judged_entry_is_refused(app, client, admin, make_entry):
    entry = make_entry()
    assert client.post(f"/admin/entries/{entry}/restore").status_code == 409
    assert client.post(f"/admin/entries/{entry}/reject", data={"reason": "A"}).status_code == 303
    assert client.post(f"/admin/entries/{entry}/reject", data={"reason": "B"}).status_code == 409
    assert _entry(app, entry).rejected_reason == "A"
    assert len(_audits(app, "reject-entry")) == 1 and _audits(app, "restore-entry") == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/entries?status=submitted&page=1", "/admin/entries?status=submitted&page=1"),
        ("https://evil.example/admin", None),
        ("//evil.example/admin", None),
        ("/\\evil.example", None),
    ],
)
def test_reject_and_restore_go_back_only_to_a_page_of_this_site(
    app, client, admin, make_entry, target, expected
):
    entry = make_entry()
    back = expected or f"/admin/entries/{entry}"
    response = client.post(f"/admin/entries/{entry}/reject", data={"reason": "x", "next": target})
    assert response.headers["Location"] == back
    response = client.post(f"/admin/entries/{entry}/restore", data={"next": target})
    assert response.headers["Location"] == back


def test_the_entry_page_forms_come_back_to_it_with_the_list_filters(client, admin, make_entry):
    entry = make_entry("filtered")
    listing = client.get("/admin/entries?status=submitted").get_data(as_text=True)
    link = re.search(rf'href="(/admin/entries/{entry}\?next=[^"]+)"', listing).group(1)
    page = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert 'href="/admin/entries?status=submitted"' in page  # back to the same list
    next_value = re.search(r'name="next" type="hidden" value="([^"]+)"', page)
    next_value = next_value or re.search(r'type="hidden" name="next" value="([^"]+)"', page)
    assert next_value.group(1).replace("&amp;", "&").startswith(f"/admin/entries/{entry}?next=")


def test_unknown_entries_are_404(client, admin):
    assert client.get("/admin/entries/999").status_code == 404
    assert client.post("/admin/entries/999/reject", data={"reason": "x"}).status_code == 404
    assert client.post("/admin/entries/999/restore").status_code == 404


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_every_entry_with_its_thumbnail_status_flags_and_entrant(
    app, client, admin, make_entry
):
    photo = make_entry("바다 사진", entrant_name="김응모", email="kim@example.com")
    video = make_entry("행사 영상", kind="video", status="rejected", rejected_reason="r")
    _add_flag(app, photo, "low-resolution")
    _add_flag(app, photo, "no-camera-data")
    _add_flag(app, photo, "capture-time", dismissed=True)
    page = client.get("/admin/entries").get_data(as_text=True)
    assert _listed(page) == [video, photo]  # newest first
    thumb = _entry_thumb(app, photo)
    assert f"/media/{thumb}" in page
    row = re.search(rf'<tr data-entry="{photo}">.*?</tr>', page, re.S).group(0)
    assert "바다 사진" in row and "김응모" in row and "kim@example.com" in row
    assert 'data-flags="2"' in row and "낮은 해상도" in row and "카메라 정보 없음" in row
    assert "촬영 시각" not in row  # dismissed: not counted, not listed
    assert "사진" in row and "접수" in row
    video_row = re.search(rf'<tr data-entry="{video}">.*?</tr>', page, re.S).group(0)
    assert "반려" in video_row and 'data-flags="0"' in video_row


def _entry_thumb(app, entry_id: int) -> str:
    with app.app_context():
        return db.session.get(Entry, entry_id).asset("thumbnail").key


def test_the_list_filters_by_status_category_flag_and_text(app, client, admin, make_entry):
    sea = make_entry("푸른 바다", description="해변에서", entrant_name="박바다")
    rejected = make_entry("반려된 것", status="rejected", rejected_reason="x")
    video = make_entry("움직이는 부스", kind="video")
    named = make_entry("무제", entrant_name="최하늘")
    wildcard = make_entry("100% 체험")
    _add_flag(app, sea, "near-duplicate", other_entry_id=named)
    _add_flag(app, video, "low-resolution")
    _add_flag(app, named, "low-resolution", dismissed=True)
    code = _entry(app, named).receipt

    def listed(query: str) -> set[int]:
        response = client.get(f"/admin/entries?{query}")
        assert response.status_code == 200, query
        return set(_listed(response.get_data(as_text=True)))

    everything = {sea, rejected, video, named, wildcard}
    assert listed("") == everything
    assert listed("status=rejected") == {rejected}
    assert listed("status=submitted") == everything - {rejected}
    assert listed("category=video") == {video}
    assert listed("category=photo") == everything - {video}
    assert listed("flag=any") == {sea, video}
    assert listed("flag=low-resolution") == {video}
    assert listed("flag=near-duplicate") == {sea}
    assert listed("flag=capture-time") == set()
    assert listed("q=바다") == {sea}  # title and entrant name
    assert listed("q=해변") == {sea}  # description
    assert listed("q=최하늘") == {named}
    assert listed(f"q={code[:4].lower()}-{code[4:8]}") == {named}  # receipt, as read aloud
    assert listed("q=%25") == {wildcard}  # a literal %, not a wildcard
    assert listed("q=바다&status=rejected") == set()
    assert listed("category=photo&flag=any&status=submitted") == {sea}


def test_the_search_finds_receipt_title_name_email_and_phone_in_any_spelling(
    client, admin, make_entry, app
):
    kim = make_entry(
        "Morning At COEX",
        entrant_name="John Smith",
        email="John.Smith@Example.com",
        phone="+821011112222",
    )
    guarded = make_entry(
        "보호자 있음",
        under14=True,
        guardian_name="보호자",
        guardian_phone="+821033334444",
        guardian_consented_at=utcnow(),
    )
    abroad = make_entry("런던에서", phone="+442079460958")
    other = make_entry("다른 작품", phone="+821055556666")
    code = _entry(app, kim).receipt

    def listed(typed: str) -> set[int]:
        response = client.get("/admin/entries", query_string={"q": typed})
        assert response.status_code == 200, typed
        return set(_listed(response.get_data(as_text=True)))

    for typed in (
        code,
        code.lower(),
        f"{code[:4]}-{code[4:8]}-{code[8:]}",
        f"{code[:4]}-{code[4:8]}-{code[8:]}".lower(),
    ):
        assert listed(typed) == {kim}, typed
    assert listed("morning at coex") == {kim}  # a title in any case
    assert listed("JOHN smith") == {kim}
    assert listed("john.smith@example.com") == {kim}
    assert listed("smith@EXAMPLE") == {kim}
    for typed in (
        "010-1111-2222",
        "01011112222",
        "+82 10 1111 2222",
        "+82-10-1111-2222",
        "(010) 1111 2222",
        "1111-2222",
        "010-1111",
    ):
        assert listed(typed) == {kim}, typed
    assert listed("010-3333-4444") == {guarded}  # a guardian's number too
    assert listed("+44 20 7946 0958") == {abroad}
    assert listed("+44 20 7946") == {abroad}
    assert listed("010-9999-0000") == set()
    assert other not in listed("010-1111-2222")


def test_the_entry_page_shows_each_judges_score_and_comment_per_round(
    app, client, admin, make_entry, make_user
):
    entry_id = make_entry("심사평 볼 작품")
    other = make_entry("다른 작품")
    kim, park, lee = (make_user(name) for name in ("judge-kim", "judge-park", "judge-lee"))
    with app.app_context():
        first = db.session.scalar(select(Round).where(Round.status == "open"))
        first.status = "closed"
        second = Round(contest_id=first.contest_id, number=2, name="본심", method="screening")
        db.session.add(second)
        db.session.flush()
        db.session.get(User, kim).display_name = "김심사"
        for round_, judge_id, total, comment in (
            (first, kim, 8.5, "빛이 <b>아름답습니다</b>"),
            (first, park, 6.0, ""),
            (first, lee, 9.0, "제 친척의 작품이라 빠집니다"),
            (second, kim, 1.0, "본심 통과 의견"),
        ):
            db.session.add(
                Score(
                    round_id=round_.id,
                    entry_id=entry_id,
                    judge_id=judge_id,
                    total=total,
                    comment=comment,
                )
            )
        db.session.add(
            Score(
                round_id=first.id,
                entry_id=other,
                judge_id=park,
                total=3.0,
                comment="다른 작품의 심사평",
            )
        )
        db.session.add(Recusal(entry_id=entry_id, judge_id=lee))
        db.session.commit()
        first_id, second_id = first.id, second.id
    page = client.get(f"/admin/entries/{entry_id}").get_data(as_text=True)
    section = re.search(r'aria-labelledby="scores-heading">.*?</section>', page, re.S).group(0)
    rows = re.findall(r'<tr data-round="(\d+)">(.*?)</tr>', section, re.S)
    cells = [
        (
            int(round_id),
            [
                re.sub(r"<[^>]+>", "", c).strip()
                for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            ],
        )
        for round_id, row in rows
    ]
    assert cells == [
        (
            first_id,
            ["1. 1차 심사", "judge-lee 회피: 집계 제외", "9.00", "제 친척의 작품이라 빠집니다"],
        ),
        (first_id, ["1. 1차 심사", "judge-park", "6.00", "—"]),
        (first_id, ["1. 1차 심사", "김심사", "8.50", "빛이 &lt;b&gt;아름답습니다&lt;/b&gt;"]),
        (second_id, ["2. 본심", "김심사", "통과", "본심 통과 의견"]),
    ]
    assert "다른 작품의 심사평" not in page


@pytest.mark.parametrize(
    "query", ["status=withdrawn", "category=audio", "flag=ugly", "q=" + "x" * 101]
)
def test_unknown_filter_values_are_400(client, admin, query):
    response = client.get(f"/admin/entries?{query}")
    assert response.status_code == 400
    assert "data-entry" not in response.get_data(as_text=True)


def test_the_list_pages_by_50_and_the_pager_keeps_the_filters(app, client, admin, make_entry):
    ids = [make_entry(f"page test {n}") for n in range(53)]
    make_entry("not this one", status="rejected", rejected_reason="x")
    with app.app_context():
        # Distinct times: the list is newest first, so the order is known.
        start = utcnow()
        for n, entry_id in enumerate(ids):
            db.session.get(Entry, entry_id).created_at = start + timedelta(seconds=n)
        db.session.commit()

    first = client.get("/admin/entries?q=page+test&status=submitted").get_data(as_text=True)
    assert _listed(first) == ids[::-1][:50]
    assert "53편" in first
    links = re.findall(r'href="(/admin/entries\?[^"]*page=2[^"]*)"', first)
    assert links
    link = links[0].replace("&amp;", "&")
    assert "status=submitted" in link and "q=page+test" in link
    second = client.get(link).get_data(as_text=True)
    assert _listed(second) == ids[::-1][50:]
    assert client.get("/admin/entries?page=3&q=page+test").status_code == 404


# --- escaping -----------------------------------------------------------------------------------

HOSTILE_TITLE = '<script>alert("title")</script>'
HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def test_hostile_titles_and_names_are_escaped_on_every_admin_page(app, client, admin, make_entry):
    older = make_entry(HOSTILE_TITLE, entrant_name=HOSTILE_NAME, description=HOSTILE_TITLE)
    newer = make_entry(HOSTILE_TITLE, entrant_name=HOSTILE_NAME, camera_make=HOSTILE_NAME)
    flag = _add_flag(app, newer, "near-duplicate", other_entry_id=older)
    client.post(f"/admin/entries/{older}/reject", data={"reason": HOSTILE_NAME})
    client.post(f"/admin/flags/{flag}/dismiss", data={"reason": HOSTILE_TITLE})
    pages = [
        "/admin/entries",
        f"/admin/entries?q={HOSTILE_NAME}",
        f"/admin/entries/{older}",
        f"/admin/entries/{newer}",
        f"/admin/flags/{flag}",
        "/admin/audit",
        f"/receipt/{_entry(app, older).receipt}",
    ]
    for path in pages:
        page = client.get(path).get_data(as_text=True)
        assert HOSTILE_TITLE not in page and HOSTILE_NAME not in page, path
        assert "&lt;script&gt;" in page or "&lt;img" in page, path


def test_admins_download_originals_only_as_sandboxed_attachments(
    app, client, admin, make_entry, upload_folder
):
    from contest.models import Asset

    entry_id = make_entry()
    with app.app_context():
        original = db.session.scalar(
            select(Asset).where(Asset.entry_id == entry_id, Asset.role == "original")
        )
        receipt = db.session.get(Entry, entry_id).receipt
    page = client.get(f"/admin/entries/{entry_id}").get_data(as_text=True)
    assert f"/admin/entries/{entry_id}/original" in page
    with client.get(f"/admin/entries/{entry_id}/original") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert f"{receipt}.jpg" in response.headers["Content-Disposition"]
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert response.data == (upload_folder / original.key).read_bytes()
