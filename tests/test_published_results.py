"""Published results are final: winners stay, their receipts say so, and publishing is confirmed."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from contest.core.extensions import db
from contest.models import Award, Entry, Flag, utcnow

from . import test_awards
from .test_awards import audit_rows, propose

# The awards tests' known leaderboard, as fixtures here too.
board, judges = test_awards.board, test_awards.judges


def _receipt(app, entry_id: int) -> str:
    with app.app_context():
        return db.session.get(Entry, entry_id).receipt


def _exists(app, entry_id: int) -> bool:
    with app.app_context():
        return db.session.get(Entry, entry_id) is not None


def _publish(client) -> None:
    propose(client)
    assert client.post("/admin/awards/publish").status_code == 303


def test_a_published_winner_cannot_be_withdrawn_and_its_receipt_shows_the_award(
    app, client, admin, board
):
    winner, loser = board["photos"][0], board["photos"][-1]
    visitor = app.test_client()
    propose(client)
    receipt = visitor.get(f"/receipt/{_receipt(app, winner)}").get_data(as_text=True)
    assert "수상작입니다" not in receipt  # proposed, not yet announced
    assert client.post("/admin/awards/publish").status_code == 303

    url = f"/receipt/{_receipt(app, winner)}"
    receipt = visitor.get(url).get_data(as_text=True)
    assert "축하합니다! 대상 수상작입니다" in receipt and 'href="/winners"' in receipt
    assert f'href="{url}/withdraw"' not in receipt
    confirm = visitor.get(url + "/withdraw").get_data(as_text=True)
    assert "운영사무국에 문의해 주세요" in confirm and "응모 취소하고 삭제하기" not in confirm

    refused = visitor.post(url + "/withdraw")
    assert refused.status_code == 409
    assert "행정안전부 · 정부3.0 체험마당 운영사무국에 문의해 주세요" in refused.get_data(
        as_text=True
    )
    as_json = visitor.post(url + "/withdraw", headers={"Accept": "application/json"})
    assert as_json.status_code == 409 and "운영사무국" in as_json.get_json()["errors"]["_form"][0]
    assert _exists(app, winner)

    # An entry without an award may still go.
    assert visitor.post(f"/receipt/{_receipt(app, loser)}/withdraw").status_code == 303
    assert not _exists(app, loser)


def test_an_admin_withdraws_or_rejects_a_winner_only_after_unpublishing(app, client, admin, board):
    winner = board["photos"][0]
    code = _receipt(app, winner)
    _publish(client)
    rejected = client.post(f"/admin/entries/{winner}/reject", data={"reason": "저작권 침해"})
    assert rejected.status_code == 409 and "먼저 수상작 페이지에서 발표를 취소" in rejected.text
    withdrawn = client.post(
        f"/admin/entries/{winner}/withdraw", data={"withdraw-reason": "응모자 요청"}
    )
    assert withdrawn.status_code == 409 and "발표를 취소해 주세요" in withdrawn.text
    assert _exists(app, winner) and audit_rows(app, "withdraw-entry") == []

    assert client.post("/admin/awards/unpublish").status_code == 303
    no_reason = client.post(f"/admin/entries/{winner}/withdraw", data={"withdraw-reason": " "})
    assert no_reason.status_code == 400 and _exists(app, winner)
    done = client.post(
        f"/admin/entries/{winner}/withdraw", data={"withdraw-reason": "응모자가 전화로 요청"}
    )
    assert done.status_code == 303 and done.headers["Location"] == "/admin/entries"
    assert not _exists(app, winner)
    (row,) = audit_rows(app, "withdraw-entry")
    assert row.user_id == admin and row.target == f"entry:{winner}"
    assert row.old["receipt"] == code and row.new == {
        "withdrawn": True,
        "reason": "응모자가 전화로 요청",
    }
    assert client.get(f"/receipt/{code}").status_code == 410


def test_the_landing_page_links_to_the_winners_once_published(app, client, admin, board):
    visitor = app.test_client()
    assert 'href="/winners"' not in visitor.get("/").get_data(as_text=True)
    _publish(client)
    assert 'href="/winners"' in visitor.get("/").get_data(as_text=True)


def _listed(page: str, section: str) -> set[str]:
    part = page.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    return set(re.findall(r'data-receipt="([^"]+)"', part))


def test_proposing_and_publishing_show_a_summary_to_confirm_first(app, client, admin, board):
    photos = board["photos"]
    codes = {entry_id: _receipt(app, entry_id) for entry_id in [*photos, *board["videos"]]}
    with app.app_context():
        # The second-best photo was sent by the first photo's entrant (same phone).
        first = db.session.get(Entry, photos[0])
        db.session.execute(update(Entry).where(Entry.id == photos[1]).values(phone=first.phone))
        db.session.add(Flag(entry_id=photos[2], kind="capture-time", detail="어제 찍음"))
        db.session.add(
            Flag(entry_id=photos[3], kind="no-camera-data", dismissed_at=utcnow(), detail="")
        )
        db.session.commit()

    awards_page = client.get("/admin/awards").get_data(as_text=True)
    assert 'href="/admin/awards/propose"' in awards_page
    assert 'href="/admin/awards/publish"' in awards_page
    assert 'action="/admin/awards/propose"' not in awards_page  # no longer a one-click button

    page = client.get("/admin/awards/propose")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Award)).all() == []  # looking wrote nothing
    assert _listed(text, "summary-awards") == {codes[i] for i in photos[:7] + board["videos"]}
    assert 'data-tier="grand"' in text
    assert _listed(text, "double-winners") == {codes[photos[0]], codes[photos[1]]}
    assert "순위에 없는 작품: 1점" in text  # the photo two judges scored
    assert _listed(text, "flagged-winners") == {codes[photos[2]]}  # not the dismissed flag
    assert 'action="/admin/awards/propose"' in text

    propose(client)
    text = client.get("/admin/awards/publish").get_data(as_text=True)
    assert _listed(text, "double-winners") == {codes[photos[0]], codes[photos[1]]}
    assert _listed(text, "flagged-winners") == {codes[photos[2]]}
    assert 'action="/admin/awards/publish"' in text
    assert client.post("/admin/awards/publish").status_code == 303
    # Once published there is nothing to confirm: back to the awards page.
    assert client.get("/admin/awards/publish").headers["Location"] == "/admin/awards"
    assert client.get("/admin/awards/propose").status_code == 409
