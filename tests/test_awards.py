"""Awards: proposed down the leaderboard, moved by hand with a reason, published and withdrawn."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import AuditLog, Award, Contest, Entry, Round, Score
from contest.services.awards import mask_name

# Means of the photo entries, best first: the leaderboard ranks them in this order.
PHOTO_MEANS = [9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0]
EXPECTED_PHOTO_TIERS = ["grand", "gold", "silver", "silver", "bronze", "bronze", "bronze"]


def give_scores(app, entry_id: int, judge_ids: list[int], mean: float) -> None:
    """Scores from each judge around `mean` (mean−0.5, mean, mean+0.5, ...), in the open round."""
    with app.app_context():
        round_id = db.session.scalar(select(Round.id).where(Round.status == "open"))
        offsets = [-0.5, 0.0, 0.5, 0.0][: len(judge_ids)]
        if len(judge_ids) == 2:
            offsets = [-0.5, 0.5]
        for judge_id, offset in zip(judge_ids, offsets, strict=True):
            db.session.add(
                Score(
                    round_id=round_id,
                    entry_id=entry_id,
                    judge_id=judge_id,
                    values={},
                    total=mean + offset,
                )
            )
        db.session.commit()


@pytest.fixture
def judges(make_user) -> list[int]:
    return [make_user(f"judge-{n}") for n in range(1, 4)]


@pytest.fixture
def board(app, make_entry, judges) -> dict:
    """A known leaderboard: 9 ranked photos, a rejected and a below-quorum photo, 2 videos.

    The rejected and the below-quorum entries have the highest means of all, so a proposal
    that forgot to skip them would give them the first prize.
    """
    photos = []
    for n, mean in enumerate(PHOTO_MEANS, 1):
        entry_id = make_entry(title=f"사진 {n}")
        give_scores(app, entry_id, judges, mean)
        photos.append(entry_id)
    rejected = make_entry(title="제외작", status="rejected", rejected_reason="저작권")
    give_scores(app, rejected, judges, 10.0)
    below = make_entry(title="정족수 미달작")
    give_scores(app, below, judges[:2], 9.8)
    videos = []
    for n, mean in enumerate([8.0, 9.0], 1):
        entry_id = make_entry(title=f"영상 {n}", kind="video")
        give_scores(app, entry_id, judges, mean)
        videos.append(entry_id)
    return {"photos": photos, "rejected": rejected, "below": below, "videos": videos[::-1]}


def awards_by_entry(app) -> dict[int, tuple[str, int]]:
    with app.app_context():
        return {a.entry_id: (a.tier, a.position) for a in db.session.scalars(select(Award)).all()}


def audit_rows(app, action: str) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        ).all()
        db.session.expunge_all()
        return rows


def receipt_of(app, entry_id: int) -> str:
    with app.app_context():
        return db.session.get(Entry, entry_id).receipt_display


def set_published(app, published: bool) -> None:
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        contest.results_published_at = datetime(2026, 12, 10, tzinfo=UTC) if published else None
        db.session.commit()


def propose(client):
    response = client.post("/admin/awards/propose")
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


# --- CSRF ----------------------------------------------------------------------------------

POSTS = [
    "/admin/awards/propose",
    "/admin/awards/1/give",
    "/admin/awards/1/remove",
    "/admin/awards/add",
    "/admin/awards/publish",
    "/admin/awards/unpublish",
]


def test_every_award_form_needs_its_csrf_token(make_app, make_user, login):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    make_user("boss", role="admin")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={"username": "boss", "password": "correct horse battery", "csrf_token": token},
    )
    for path in POSTS:
        assert client.post(path, data={"reason": "x", "receipt": "x"}).status_code == 400, path
    page = client.get("/admin/awards").get_data(as_text=True)
    assert page.count('name="csrf_token"') >= 3  # publish, propose, and every other form
    assert "<script" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/admin/awards/propose", data={"csrf_token": token}).status_code == 303


# --- Proposal ------------------------------------------------------------------------------


def test_proposal_gives_the_tiers_down_each_category_skipping_rejected_and_below_quorum(
    app, client, admin, board
):
    propose(client)
    given = awards_by_entry(app)
    photos = board["photos"]
    for position, (entry_id, tier) in enumerate(zip(photos, EXPECTED_PHOTO_TIERS, strict=False), 1):
        assert given[entry_id] == (tier, position)
    assert photos[7] not in given and photos[8] not in given  # only 7 photo awards
    assert board["rejected"] not in given
    assert board["below"] not in given
    best_video, second_video = board["videos"]
    assert given[best_video] == ("grand", 1)
    assert given[second_video] == ("gold", 2)
    assert len(given) == 9

    (row,) = audit_rows(app, "propose-awards")
    assert row.user_id == admin
    assert row.old == {"awards": []}
    assert len(row.new["awards"]) == 9


def test_the_awards_page_shows_each_winner_with_their_leaderboard_figures(client, admin, board):
    propose(client)
    page = client.get("/admin/awards").get_data(as_text=True)
    assert "제외작" not in page  # not even among the entries to pick
    # The winners' tables (the forms below them offer the rest of the leaderboard).
    page = "".join(re.findall(r'<table class="prizes awards">.*?</table>', page, re.S))
    assert page.index("사진 1") < page.index("사진 2") < page.index("사진 7")
    assert "사진 8" not in page
    assert "9.00" in page and "8.50" in page  # the winners' weighted means
    assert "대상" in page and "최우수상" in page and "장려상" in page


def test_a_new_proposal_replaces_every_award_hand_moves_included(app, client, admin, board):
    propose(client)
    first = _award_id(app, board["photos"][0])
    ninth = receipt_of(app, board["photos"][8])
    client.post(f"/admin/awards/{first}/give", data={"receipt": ninth, "reason": "재검토"})
    assert awards_by_entry(app)[board["photos"][8]] == ("grand", 1)

    propose(client)
    given = awards_by_entry(app)
    assert given[board["photos"][0]] == ("grand", 1)
    assert board["photos"][8] not in given
    with app.app_context():
        category_id = db.session.get(Entry, board["photos"][8]).category_id
    second = audit_rows(app, "propose-awards")[-1]
    moved = {"tier": "grand", "entry": ninth.replace("-", ""), "category": category_id}
    assert moved in second.old["awards"]


def test_no_round_no_proposal(app, client, admin):
    with app.app_context():
        for round_ in db.session.scalars(select(Round)):
            db.session.delete(round_)
        db.session.commit()
    response = client.post("/admin/awards/propose")
    assert response.status_code == 409
    assert "심사 라운드가 없어" in response.get_data(as_text=True)


# --- Moving by hand -------------------------------------------------------------------------


def _award_id(app, entry_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Award.id).where(Award.entry_id == entry_id))


def test_giving_an_award_to_another_entry_needs_a_reason_and_is_audited(app, client, admin, board):
    propose(client)
    award_id = _award_id(app, board["photos"][2])  # a silver
    eighth = board["photos"][7]
    typed = receipt_of(app, eighth).lower()  # typed any way

    refused = client.post(f"/admin/awards/{award_id}/give", data={"receipt": typed, "reason": " "})
    assert refused.status_code == 400
    assert "사유를 적어 주세요" in refused.get_data(as_text=True)
    assert awards_by_entry(app)[board["photos"][2]] == ("silver", 3)

    moved = client.post(
        f"/admin/awards/{award_id}/give", data={"receipt": typed, "reason": "표절 의혹 재심사"}
    )
    assert moved.status_code == 303
    assert moved.headers["Location"] == "/admin/awards"
    given = awards_by_entry(app)
    assert given[eighth] == ("silver", 3)
    assert board["photos"][2] not in given

    (row,) = audit_rows(app, "move-award")
    assert row.user_id == admin
    assert row.target == f"award:{award_id}"
    assert row.old["entry"] == receipt_of(app, board["photos"][2]).replace("-", "")
    assert row.new["entry"] == typed.upper().replace("-", "")
    assert row.new["reason"] == "표절 의혹 재심사"
    with app.app_context():
        assert db.session.get(Award, award_id).reason == "표절 의혹 재심사"


def _picker(page: str, select_id: str) -> list[tuple[str, bool, str]]:
    """The options of a receipt picker: (value, disabled, text)."""
    block = re.search(rf'<select id="{select_id}" name="receipt"[^>]*>(.*?)</select>', page, re.S)
    return [
        (value, bool(disabled), text)
        for value, disabled, text in re.findall(
            r'<option value="([^"]*)"( disabled)?>(.*?)</option>', block.group(1), re.S
        )
    ]


def test_an_award_is_moved_by_picking_an_entry_from_the_leaderboard(app, client, admin, board):
    propose(client)
    award_id = _award_id(app, board["photos"][2])  # a silver
    page = client.get("/admin/awards").get_data(as_text=True)
    options = _picker(page, f"give-pick-{award_id}")
    codes = [value for value, _, _ in options[1:]]
    # The photo category's leaderboard in rank order, the below-quorum entry after it; never
    # the rejected entry nor the other category's.
    photos = [receipt_of(app, e).replace("-", "") for e in board["photos"]]
    assert codes == photos + [receipt_of(app, board["below"]).replace("-", "")]
    assert options[0][0] == ""  # nothing picked until the admin picks
    by_code = {value: (disabled, text) for value, disabled, text in options}
    assert by_code[photos[7]] == (
        False,
        f"8위 · 사진 8 · {receipt_of(app, board['photos'][7])} · 평균 5.50",
    )
    assert by_code[photos[0]][0] and "이미 대상" in by_code[photos[0]][1]  # holds one already
    # A receipt code can still be typed for an entry the list does not show.
    assert f'id="give-receipt-{award_id}" name="receipt"' in page
    assert 'id="add-pick-' in page

    # The form sends both controls: the picked entry and an empty typed code.
    moved = client.post(
        f"/admin/awards/{award_id}/give",
        data={"receipt": [photos[7], ""], "reason": "재검토 결과"},
    )
    assert moved.status_code == 303, moved.get_data(as_text=True)
    assert awards_by_entry(app)[board["photos"][7]] == ("silver", 3)


def test_a_picked_entry_and_a_different_typed_code_are_refused(app, client, admin, board):
    propose(client)
    award_id = _award_id(app, board["photos"][2])
    picked, typed = (receipt_of(app, board["photos"][n]) for n in (7, 8))
    refused = client.post(
        f"/admin/awards/{award_id}/give", data={"receipt": [picked, typed], "reason": "x"}
    )
    assert refused.status_code == 400
    assert "하나만 주세요" in refused.get_data(as_text=True)
    assert awards_by_entry(app)[board["photos"][2]] == ("silver", 3)
    same = receipt_of(app, board["photos"][7])
    both = client.post(  # the picked entry typed again, in its own spelling: no conflict
        f"/admin/awards/{award_id}/give",
        data={"receipt": [same.replace("-", ""), same.lower()], "reason": "재검토"},
    )
    assert both.status_code == 303, both.get_data(as_text=True)
    nothing = client.post(
        f"/admin/awards/{award_id}/give", data={"receipt": ["", ""], "reason": "x"}
    )
    assert nothing.status_code == 400
    assert "받을 응모작을 고르거나" in nothing.get_data(as_text=True)


def test_an_entry_is_added_by_picking_it_too(app, client, admin, board):
    propose(client)
    with app.app_context():
        category_id = db.session.get(Entry, board["photos"][0]).category_id
    bronze = _award_id(app, board["photos"][6])
    assert (
        client.post(f"/admin/awards/{bronze}/remove", data={"reason": "중복 수상"}).status_code
        == 303
    )
    page = client.get("/admin/awards").get_data(as_text=True)
    ninth = receipt_of(app, board["photos"][8]).replace("-", "")
    assert (ninth, False) in [(v, d) for v, d, _ in _picker(page, f"add-pick-{category_id}")]
    added = client.post(
        "/admin/awards/add",
        data={
            "category_id": category_id,
            "tier": "bronze",
            "receipt": ["", ninth][::-1],
            "reason": "차점자",
        },
    )
    assert added.status_code == 303, added.get_data(as_text=True)
    assert awards_by_entry(app)[board["photos"][8]][0] == "bronze"


def test_the_awards_page_shows_thumbnails_linked_to_each_entry(app, client, admin, board):
    propose(client)
    page = client.get("/admin/awards").get_data(as_text=True)
    table = "".join(re.findall(r'<table class="prizes awards">.*?</table>', page, re.S))
    for entry_id in board["photos"][:7] + board["videos"][:1]:
        with app.app_context():
            thumb = db.session.get(Entry, entry_id).asset("thumbnail").key
        assert re.search(
            rf'<a href="/admin/entries/{entry_id}"><img src="/media/{re.escape(thumb)}"', table
        ), entry_id
        assert f'<a href="/admin/entries/{entry_id}">' in table


@pytest.mark.parametrize("target", ["rejected", "video", "winner", "unknown"])
def test_an_award_goes_only_to_an_eligible_entry_of_its_category(app, client, admin, board, target):
    propose(client)
    award_id = _award_id(app, board["photos"][0])
    receipt = {
        "rejected": lambda: receipt_of(app, board["rejected"]),
        "video": lambda: receipt_of(app, board["videos"][0]),
        "winner": lambda: receipt_of(app, board["photos"][1]),
        "unknown": lambda: "ZZZZ-ZZZZ-ZZZZZ",
    }[target]()
    before = awards_by_entry(app)
    response = client.post(
        f"/admin/awards/{award_id}/give", data={"receipt": receipt, "reason": "이유"}
    )
    assert response.status_code in (400, 409)
    assert awards_by_entry(app) == before
    assert audit_rows(app, "move-award") == []


def test_removing_and_adding_awards_by_hand(app, client, admin, board):
    propose(client)
    award_id = _award_id(app, board["photos"][1])  # the gold
    assert client.post(f"/admin/awards/{award_id}/remove", data={"reason": ""}).status_code == 400
    assert board["photos"][1] in awards_by_entry(app)

    assert (
        client.post(f"/admin/awards/{award_id}/remove", data={"reason": "중복 응모"}).status_code
        == 303
    )
    given = awards_by_entry(app)
    assert board["photos"][1] not in given
    assert given[board["photos"][2]] == ("silver", 2)  # renumbered
    (row,) = audit_rows(app, "remove-award")
    assert row.old["tier"] == "gold" and row.new == {"reason": "중복 응모"}

    with app.app_context():
        photo_category = db.session.get(Entry, board["photos"][0]).category_id
    data = {"category_id": photo_category, "tier": "silver", "reason": "추가"}
    data["receipt"] = receipt_of(app, board["photos"][7])
    full = client.post("/admin/awards/add", data=data)
    assert full.status_code == 409  # both silvers are given
    data["tier"] = "gold"
    assert client.post("/admin/awards/add", data=data).status_code == 303
    given = awards_by_entry(app)
    assert given[board["photos"][7]] == ("gold", 2)
    assert given[board["photos"][2]] == ("silver", 3)
    (row,) = audit_rows(app, "add-award")
    assert row.old is None and row.new["tier"] == "gold" and row.new["reason"] == "추가"


# --- Publishing ----------------------------------------------------------------------------


def test_publish_and_unpublish_are_audited_and_freeze_the_awards(app, client, admin, board):
    assert client.post("/admin/awards/publish").status_code == 409  # nothing to announce yet
    propose(client)
    assert client.post("/admin/awards/publish").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Contest)).results_published_at is not None
    (row,) = audit_rows(app, "publish-results")
    assert row.user_id == admin and row.old == {"results_published_at": None}

    frozen = awards_by_entry(app)
    award_id = _award_id(app, board["photos"][0])
    assert client.post("/admin/awards/propose").status_code == 409
    assert client.post(f"/admin/awards/{award_id}/remove", data={"reason": "x"}).status_code == 409
    assert awards_by_entry(app) == frozen
    assert "발표 취소" in client.get("/admin/awards").get_data(as_text=True)

    assert client.post("/admin/awards/unpublish").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Contest)).results_published_at is None
    (row,) = audit_rows(app, "unpublish-results")
    assert row.new == {"results_published_at": None}
    assert client.post("/admin/awards/unpublish").status_code == 409


# --- Masking -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("홍길동", "홍*동"),
        ("김철", "김*"),
        ("남궁민수", "남**수"),
        ("이", "*"),
        ("John Smith", "J*** S****"),
        ("홍 길동", "홍 길*"),
        ("Madonna", "M*****a"),
        ("  홍길동 ", "홍*동"),
        ("", ""),
    ],
)
def test_names_are_masked(name, masked):
    assert mask_name(name) == masked


def ranks_by_entry(app) -> dict[int, int | None]:
    with app.app_context():
        return dict(db.session.execute(select(Award.entry_id, Award.rank)).all())


def test_each_award_keeps_the_rank_it_was_given_for(app, client, admin, board):
    propose(client)
    photos = board["photos"]
    ranks = ranks_by_entry(app)
    assert [ranks[p] for p in photos[:7]] == [1, 2, 3, 4, 5, 6, 7]
    assert [ranks[v] for v in board["videos"]] == [1, 2]

    # Moved by hand to the ninth photo: the award now records that photo's rank.
    first = _award_id(app, photos[0])
    ninth = receipt_of(app, photos[8])
    client.post(f"/admin/awards/{first}/give", data={"receipt": ninth, "reason": "재검토"})
    assert ranks_by_entry(app)[photos[8]] == 9

    # Added by hand to an entry below the quorum: no rank to record.
    with app.app_context():
        category_id = db.session.get(Entry, photos[0]).category_id
    gold = _award_id(app, photos[1])
    assert client.post(f"/admin/awards/{gold}/remove", data={"reason": "철회"}).status_code == 303
    data = {"category_id": category_id, "tier": "gold", "reason": "특별 심사"}
    data["receipt"] = receipt_of(app, board["below"])
    assert client.post("/admin/awards/add", data=data).status_code == 303
    assert ranks_by_entry(app).get(board["below"], "missing") is None
