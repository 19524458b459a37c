"""The people's choice (인기상): its own award tier, given from the vote counts after voting."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from contest.core.extensions import db
from contest.models import Award, Contest, utcnow
from contest.services.awards import PEOPLES_CHOICE

from .conftest import PASSWORD
from .test_votes import _add_vote, _cards, _set_contest


def test_the_peoples_choice_is_its_own_tier_proposed_after_voting(app, client, admin, make_entry):
    top, second, jury_winner = (
        make_entry(consent_publish=True, display="approved") for _ in range(3)
    )
    cards = _cards(app, 3)
    t = utcnow() - timedelta(hours=1)
    for n, card in enumerate(cards):
        _add_vote(app, card, jury_winner, t + timedelta(seconds=n))
    _add_vote(app, cards[0], top, t + timedelta(minutes=1))
    _add_vote(app, cards[1], top, t + timedelta(minutes=2))
    _add_vote(app, cards[2], second, t + timedelta(minutes=3))
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        photo = next(c for c in contest.categories if c.kind == "photo")
        db.session.add(
            Award(
                contest_id=contest.id,
                category_id=photo.id,
                entry_id=jury_winner,
                tier="grand",
                position=1,
                rank=1,
            )
        )
        db.session.commit()

    # While voting is open nothing is given.
    response = client.post("/admin/awards/peoples-choice")
    assert response.status_code == 409
    assert "투표가 끝난 뒤" in response.get_data(as_text=True)

    _set_contest(
        app, voting_closes_at=utcnow() - timedelta(minutes=1), voting_opens_at=t - timedelta(days=1)
    )
    assert client.post("/admin/awards/peoples-choice").status_code == 303
    with app.app_context():
        given = db.session.execute(
            select(Award.entry_id, Award.tier).order_by(Award.position)
        ).all()
    # The jury's award stands; the most-voted entry without one takes the people's choice.
    assert given == [(jury_winner, "grand"), (top, PEOPLES_CHOICE)]
    page = client.get("/admin/awards").get_data(as_text=True)
    assert "인기상" in page

    # Proposing again replaces only the people's choice.
    assert client.post("/admin/awards/peoples-choice").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count(Award.id))) == 2

    # A voided card's votes count nowhere: without the two cards that put `top` ahead, the
    # only entry left with a vote outside the jury's awards is `second`.
    for card in cards[:2]:
        assert client.post(f"/admin/vote-tokens/{card}/void").status_code == 303
    assert client.post("/admin/awards/peoples-choice").status_code == 303
    with app.app_context():
        given = db.session.execute(
            select(Award.entry_id, Award.tier).order_by(Award.position)
        ).all()
    assert given == [(jury_winner, "grand"), (second, PEOPLES_CHOICE)]

    # Published, it shows on the winners page under its own name.
    assert client.post("/admin/awards/publish").status_code == 303
    assert "인기상" in client.get("/winners").get_data(as_text=True)


def test_the_peoples_choice_tier_gives_per_category_as_set(make_app, make_user, make_entry):
    app = make_app(PEOPLES_CHOICE_AWARDS=2)
    make_user("organiser-kim", role="admin")
    client = app.test_client()
    client.post("/login", data={"username": "organiser-kim", "password": PASSWORD})
    photos = [make_entry(consent_publish=True, display="approved") for _ in range(3)]
    video = make_entry(kind="video", consent_publish=True, display="approved")
    cards = _cards(app, 3)
    t = utcnow() - timedelta(hours=1)
    for n, entry_id in enumerate(photos):
        for card in cards[: 3 - n]:  # photos[0] 3 votes, photos[1] 2, photos[2] 1
            _add_vote(app, card, entry_id, t + timedelta(minutes=n))
    _add_vote(app, cards[0], video, t)
    _set_contest(app, voting_closes_at=utcnow(), voting_opens_at=t - timedelta(days=1))
    assert client.post("/admin/awards/peoples-choice").status_code == 303
    with app.app_context():
        given = db.session.scalars(
            select(Award.entry_id).where(Award.tier == PEOPLES_CHOICE).order_by(Award.id)
        ).all()
    assert sorted(given) == sorted([photos[0], photos[1], video])


def test_a_new_jury_proposal_gives_the_peoples_choice_again(
    app, client, admin, make_entry, make_user
):
    """Proposing from the leaderboard again never drops the people's choice silently: it is
    given again from the vote, and passes on when the jury now awards its entry."""
    from .test_awards import give_scores

    judges = [make_user(f"pc-judge-{n}") for n in range(3)]
    favourite, runner_up = (make_entry(consent_publish=True, display="approved") for _ in range(2))
    cards = _cards(app, 2)
    t = utcnow() - timedelta(hours=1)
    for card in cards:
        _add_vote(app, card, favourite, t)
    _add_vote(app, cards[0], runner_up, t + timedelta(minutes=1))
    _set_contest(app, voting_closes_at=utcnow(), voting_opens_at=t - timedelta(days=1))
    assert client.post("/admin/awards/peoples-choice").status_code == 303

    def given():
        with app.app_context():
            return dict(db.session.execute(select(Award.entry_id, Award.tier)).all())

    assert given() == {favourite: PEOPLES_CHOICE}
    # The jury now ranks the favourite first: it takes the jury's top award, and the
    # people's choice goes to the next in the vote instead of vanishing.
    give_scores(app, favourite, judges, 9.0)
    assert client.post("/admin/awards/propose").status_code == 303
    awarded = given()
    assert awarded[favourite] != PEOPLES_CHOICE
    assert awarded[runner_up] == PEOPLES_CHOICE
