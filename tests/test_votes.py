"""The people's-choice vote: cards, their rules, voiding, counting, the tie rule, 인기상."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from contest.core.extensions import db
from contest.models import AuditLog, Contest, Entry, Vote, VoteToken, utcnow
from contest.services import votes

JSON = {"Accept": "application/json"}


@pytest.fixture
def entries(app, make_entry) -> list[str]:
    """Four photo entries on display: their public ids."""
    ids = [make_entry(consent_publish=True, display="approved") for _ in range(4)]
    with app.app_context():
        return [db.session.get(Entry, i).public_id for i in ids]


def _cards(app, count: int = 1) -> list[str]:
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        tokens = votes.make_tokens(contest, count, 100, None)
        codes = [t.token for t in tokens]
        db.session.commit()
        return codes


def _vote_rows(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(VoteToken.token, Entry.public_id, Vote.ordinal)
            .join(VoteToken, VoteToken.id == Vote.token_id)
            .join(Entry, Entry.id == Vote.entry_id)
            .order_by(Vote.id)
        ).all()


def _set_contest(app, **values) -> None:
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        for name, value in values.items():
            setattr(contest, name, value)
        db.session.commit()


def _vote(client, public_id: str):
    return client.post(f"/gallery/{public_id}/vote", headers=JSON)


def test_a_card_casts_up_to_its_limit_and_once_per_entry(app, client, entries):
    (card,) = _cards(app)
    response = client.get(f"/vote/{card}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/gallery"

    first = _vote(client, entries[0])
    assert first.status_code == 201
    assert first.get_json() == {"entry": entries[0], "votes_left": 2}
    again = _vote(client, entries[0])
    assert again.status_code == 409
    assert "이미" in again.get_json()["error"]
    assert _vote(client, entries[1]).status_code == 201
    assert _vote(client, entries[2]).status_code == 201
    used_up = _vote(client, entries[3])
    assert used_up.status_code == 403
    assert "3표를 모두" in used_up.get_json()["error"]

    assert _vote_rows(app) == [
        (card, entries[0], 1),
        (card, entries[1], 2),
        (card, entries[2], 3),
    ]


def test_the_address_is_kept_only_as_a_keyed_hash(app, client, entries):
    (card,) = _cards(app)
    client.get(f"/vote/{card}")
    client.post(
        f"/gallery/{entries[0]}/vote", headers=JSON, environ_base={"REMOTE_ADDR": "203.0.113.7"}
    )
    with app.app_context():
        stored = db.session.scalar(select(Vote.address_digest))
    assert "203.0.113.7" not in stored
    assert stored == votes.address_digest("203.0.113.7", app.config["SECRET_KEY"])
    assert stored != votes.address_digest("203.0.113.7", "another-key")


def test_votes_per_token_is_a_setting(make_app, make_entry):
    app = make_app(VOTES_PER_TOKEN=1)
    client = app.test_client()
    ids = [make_entry(consent_publish=True, display="approved") for _ in range(2)]
    with app.app_context():
        public = [db.session.get(Entry, i).public_id for i in ids]
    (card,) = _cards(app)
    client.get(f"/vote/{card}")
    assert _vote(client, public[0]).status_code == 201
    assert _vote(client, public[1]).status_code == 403
    assert len(_vote_rows(app)) == 1


def test_no_card_an_unknown_card_and_a_made_up_link_are_refused(app, client, entries):
    response = _vote(client, entries[0])
    assert response.status_code == 403
    assert "QR" in response.get_json()["error"]
    page = client.post(f"/gallery/{entries[0]}/vote")
    assert page.status_code == 403
    assert "QR 코드를 찍어" in page.get_data(as_text=True)

    made_up = "ABCDEFGHJKMNPQRS"
    assert client.get(f"/vote/{made_up}").status_code == 404
    assert client.get("/vote/not-a-card").status_code == 404
    with client.session_transaction() as session:
        session["vote_token"] = made_up  # a card that was never made
    response = _vote(client, entries[0])
    assert response.status_code == 403
    assert "쓸 수 없는" in response.get_json()["error"]
    assert _vote_rows(app) == []


def test_votes_only_for_entries_on_display(app, client, make_entry):
    (card,) = _cards(app)
    client.get(f"/vote/{card}")
    hidden = make_entry(consent_publish=True, display="hidden")
    pending = make_entry(consent_publish=True)
    no_consent = make_entry(display="approved")
    rejected = make_entry(consent_publish=True, display="approved", status="rejected")
    with app.app_context():
        for entry_id in (hidden, pending, no_consent, rejected):
            public_id = db.session.get(Entry, entry_id).public_id
            assert _vote(client, public_id).status_code == 404
    assert _vote_rows(app) == []


def test_votes_only_within_the_voting_window(app, client, entries):
    (card,) = _cards(app)
    client.get(f"/vote/{card}")
    now = utcnow()
    _set_contest(
        app, voting_opens_at=now + timedelta(hours=1), voting_closes_at=now + timedelta(hours=2)
    )
    early = _vote(client, entries[0])
    assert early.status_code == 403
    assert "아직 투표 기간이 아닙니다" in early.get_json()["error"]

    _set_contest(
        app, voting_opens_at=now - timedelta(hours=2), voting_closes_at=now - timedelta(hours=1)
    )
    late = _vote(client, entries[0])
    assert late.status_code == 403
    assert "마감" in late.get_json()["error"]
    assert _vote_rows(app) == []

    # By default the window is the submission window: closing submissions closes the vote.
    _set_contest(
        app,
        voting_opens_at=None,
        voting_closes_at=None,
        opens_at=now - timedelta(days=1),
        closes_at=now - timedelta(minutes=1),
    )
    assert _vote(client, entries[0]).status_code == 403
    _set_contest(app, closes_at=now + timedelta(days=1))
    assert _vote(client, entries[0]).status_code == 201


def test_a_voided_card_votes_no_more_and_its_votes_count_nowhere(
    app, client, make_user, login, entries
):
    honest, voided = _cards(app, 2)
    visitor = app.test_client()
    visitor.get(f"/vote/{voided}")
    assert _vote(visitor, entries[0]).status_code == 201
    assert _vote(visitor, entries[1]).status_code == 201
    other = app.test_client()
    other.get(f"/vote/{honest}")
    assert _vote(other, entries[0]).status_code == 201

    make_user("organiser-lee", role="admin")
    login("organiser-lee")
    response = client.post(f"/admin/vote-tokens/{voided}/void")
    assert response.status_code == 303
    assert _vote(visitor, entries[2]).status_code == 403
    assert "중지" in _vote(visitor, entries[2]).get_json()["error"]

    with app.app_context():
        counted = {
            s.public_id: s.votes
            for s in votes.peoples_choice_ranking(db.session.scalar(select(Contest)))
        }
        assert db.session.scalar(select(func.count(Vote.id))) == 3  # kept, not counted
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "void-vote-token"))
    assert counted[entries[0]] == 1 and counted[entries[1]] == 0

    rows = _votes_csv(client)
    by_id = {row["공개 ID"]: row for row in rows}
    assert by_id[entries[0]]["득표"] == "1"
    assert by_id[entries[1]]["득표"] == "0"
    assert set(by_id) == set(entries)  # one row per entry on display

    # Voiding again changes nothing and says so.
    again = client.post(f"/admin/vote-tokens/{voided}/void", follow_redirects=True)
    assert "이미 사용을 중지한" in again.get_data(as_text=True)
    assert client.post("/admin/vote-tokens/ABCDEFGHJKMNPQRS/void").status_code == 404


def _votes_csv(client) -> list[dict]:
    response = client.get("/admin/export/votes.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="votes.csv"'
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_cli_prints_the_cards_it_made(app, runner):
    result = runner.invoke(args=["vote-tokens", "--count", "5"])
    assert result.exit_code == 0, result.output
    codes = result.output.split()
    assert len(codes) == 5 == len(set(codes))
    assert all(re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{16}", code) for code in codes)
    with app.app_context():
        stored = set(db.session.scalars(select(VoteToken.token)))
    assert stored == set(codes)

    refused = runner.invoke(args=["vote-tokens", "--count", "0"])
    assert refused.exit_code != 0
    with app.app_context():
        assert db.session.scalar(select(func.count(VoteToken.id))) == 5


def test_admins_make_cards_and_print_them_as_qr_cards(app, client, admin):
    response = client.post("/admin/vote-tokens", data={"count": "3"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    with app.app_context():
        codes = list(db.session.scalars(select(VoteToken.token)))
    assert len(codes) == 3
    assert html.count('<svg class="qr"') == 3
    for code in codes:
        assert votes.grouped_token(code) in html

    refused = client.post("/admin/vote-tokens", data={"count": "0"})
    assert refused.status_code == 400
    assert "1장 이상" in refused.get_data(as_text=True)
    too_many = client.post("/admin/vote-tokens", data={"count": "100000"})
    assert too_many.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(VoteToken.id))) == 3


def _add_vote(app, card: str, entry_id: int, at: datetime, digest: str = "x" * 64) -> None:
    with app.app_context():
        token = db.session.scalar(select(VoteToken).where(VoteToken.token == card))
        ordinal = len(token.votes) + 1
        db.session.add(
            Vote(
                token_id=token.id,
                entry_id=entry_id,
                ordinal=ordinal,
                cast_at=at,
                address_digest=digest,
            )
        )
        db.session.commit()


def test_the_peoples_choice_ranking_breaks_ties_by_the_earlier_last_vote_then_the_entry_id(
    app, make_entry
):
    ids = [make_entry(consent_publish=True, display="approved") for _ in range(4)]
    cards = _cards(app, 3)
    t = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    # ids[0] and ids[1] both have two votes; ids[1] reached two first.
    _add_vote(app, cards[0], ids[0], t)
    _add_vote(app, cards[1], ids[0], t + timedelta(minutes=10))
    _add_vote(app, cards[0], ids[1], t + timedelta(minutes=1))
    _add_vote(app, cards[1], ids[1], t + timedelta(minutes=2))
    # ids[2] and ids[3] both have one vote at the same moment: the lower id wins.
    _add_vote(app, cards[2], ids[3], t + timedelta(minutes=5))
    _add_vote(app, cards[2], ids[2], t + timedelta(minutes=5))
    with app.app_context():
        ranking = votes.peoples_choice_ranking(db.session.scalar(select(Contest)))
    photos = [(s.entry_id, s.votes, s.place) for s in ranking if s.votes]
    assert photos == [(ids[1], 2, 1), (ids[0], 2, 2), (ids[2], 1, 3), (ids[3], 1, 4)]


def test_the_admin_page_shows_counts_and_suspicious_cards(app, client, admin, make_entry):
    ids = [
        make_entry(consent_publish=True, display="approved", title=f"작품 {n}") for n in range(3)
    ]
    fast, slow = _cards(app, 2)
    t = utcnow() - timedelta(minutes=30)
    for n, entry_id in enumerate(ids):
        _add_vote(app, fast, entry_id, t + timedelta(seconds=n * 2), digest="a" * 64)
        _add_vote(app, slow, entry_id, t + timedelta(minutes=n * 5), digest="b" * 64)
    html = client.get("/admin/vote-tokens").get_data(as_text=True)
    suspicious = html.split('id="suspicious-heading"')[1].split("</section>")[0]
    assert votes.grouped_token(fast) in suspicious
    assert votes.grouped_token(slow) not in suspicious
    counts = html.split('id="counts-heading"')[1].split("</section>")[0]
    assert len(re.findall(r"</a></td><td>\w+</td><td>2</td>", counts)) == 3


def test_many_cards_from_one_address_are_suspicious(make_app, make_entry):
    app = make_app(SUSPICIOUS_TOKENS_PER_ADDRESS=3)
    entry_id = make_entry(consent_publish=True, display="approved")
    cards = _cards(app, 4)
    t = utcnow() - timedelta(hours=1)
    for n, card in enumerate(cards[:3]):
        _add_vote(app, card, entry_id, t + timedelta(minutes=n), digest="c" * 64)
    _add_vote(app, cards[3], entry_id, t, digest="d" * 64)
    with app.app_context():
        found = votes.suspicious_tokens(db.session.scalar(select(Contest)), 3, 10, 3, 3)
        flagged = {s.token.token: s.shared_address_cards for s in found}
    assert flagged == {cards[0]: 3, cards[1]: 3, cards[2]: 3}


def test_votes_need_the_csrf_token(make_app, make_entry):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    entry_id = make_entry(consent_publish=True, display="approved")
    with app.app_context():
        public_id = db.session.get(Entry, entry_id).public_id
    (card,) = _cards(app)
    client.get(f"/vote/{card}")
    assert client.post(f"/gallery/{public_id}/vote").status_code == 400
    assert _vote_rows(app) == []
    page = client.get(f"/gallery/{public_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/gallery/{public_id}/vote", headers=JSON | {"X-CSRFToken": token})
    assert response.status_code == 201
    assert len(_vote_rows(app)) == 1


def test_votes_are_rate_limited_per_address(make_app, make_entry):
    app = make_app(VOTE_RATE_LIMIT="2 per minute")
    client = app.test_client()
    entry_id = make_entry(consent_publish=True, display="approved")
    with app.app_context():
        public_id = db.session.get(Entry, entry_id).public_id
    assert _vote(client, public_id).status_code == 403
    assert _vote(client, public_id).status_code == 403
    assert _vote(client, public_id).status_code == 429


def test_the_voting_window_is_a_contest_setting(app, runner):
    result = runner.invoke(args=["contest", "set", "voting_closes_at", "2031-12-06 18:00"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        assert contest.voting_closes_at == datetime(2031, 12, 6, 9, 0, tzinfo=UTC)
        assert votes.voting_window(contest) == (contest.opens_at, contest.voting_closes_at)
    shown = runner.invoke(args=["contest", "show"]).output
    assert "voting_closes_at = 2031-12-06 18:00" in shown
    assert re.search(r"^voting_opens_at = $", shown, re.M)  # empty: the submissions' opening

    refused = runner.invoke(args=["contest", "set", "voting_opens_at", "2032-01-01 00:00"])
    assert refused.exit_code != 0
    assert "투표 마감은 투표 시작보다 뒤" in refused.output
    cleared = runner.invoke(args=["contest", "set", "voting_closes_at", ""])
    assert cleared.exit_code == 0, cleared.output
    with app.app_context():
        assert db.session.scalar(select(Contest)).voting_closes_at is None


def test_the_schema_holds_the_card_rules_too(app, entries):
    (card,) = _cards(app)
    with app.app_context():
        token = db.session.scalar(select(VoteToken))
        ids = list(db.session.scalars(select(Entry.id).order_by(Entry.id)))
        db.session.add(Vote(token_id=token.id, entry_id=ids[0], ordinal=1, address_digest="a"))
        db.session.commit()
        for entry_id, ordinal in ((ids[0], 2), (ids[1], 1)):  # same entry; same vote number
            db.session.add(
                Vote(token_id=token.id, entry_id=entry_id, ordinal=ordinal, address_digest="a")
            )
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()
        assert db.session.scalar(select(func.count(Vote.id))) == 1


def test_racing_votes_never_pass_the_cards_limit(make_app, make_entry):
    app = make_app(VOTES_PER_TOKEN=1)
    ids = [make_entry(consent_publish=True, display="approved") for _ in range(4)]
    with app.app_context():
        public = [db.session.get(Entry, i).public_id for i in ids]
    (card,) = _cards(app)
    clients = [app.test_client() for _ in public]
    for client in clients:
        client.get(f"/vote/{card}")
    start = threading.Barrier(len(clients))
    statuses = []

    def vote(client, public_id):
        start.wait()
        statuses.append(_vote(client, public_id).status_code)

    pairs = zip(clients, public, strict=True)
    threads = [threading.Thread(target=vote, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 403, 403, 403]
    assert len(_vote_rows(app)) == 1
