"""Ranking rounds: judges order the finalists, the Schulze method counts (issue 17).

Switching a round to ranking, saving and revising orders (form and JSON), refusals that
change nothing, top-N ties, the leaderboard and CSV in Schulze order while open, closing,
and awards that follow a closed ranking round. The count itself: tests/test_schulze.py.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import AuditLog, Award, JudgeRanking, Round, RoundEntry, Score, utcnow

from .conftest import PASSWORD
from .test_schulze import WIKIPEDIA, A, B, C, D, E, _ballots, _pairwise

# --- The round through HTTP --------------------------------------------------------------------


@pytest.fixture
def first_round(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Round.id).where(Round.number == 1))


@pytest.fixture
def finalists(make_entry) -> list[int]:
    return [make_entry(title=f"결선작 {n}") for n in range(1, 5)]


def _client(app, username: str):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303
    return client


@pytest.fixture
def boss(app, make_user):
    make_user("boss", role="admin")
    return _client(app, "boss")


@pytest.fixture
def jury(app, make_user) -> list:
    clients = []
    for n in range(1, 4):
        make_user(f"judge-{n}")
        clients.append(_client(app, f"judge-{n}"))
    return clients


def _to_ranking(boss, round_id: int, rank_top: int | str = "") -> None:
    response = boss.post(
        f"/admin/rounds/{round_id}/method", data={"method": "ranking", "rank_top": rank_top}
    )
    assert response.status_code == 303, response.get_data(as_text=True)


def _saved(app, round_id: int) -> dict[str, list[int]]:
    from contest.models import User

    with app.app_context():
        rows = db.session.execute(
            select(User.username, JudgeRanking.entry_ids)
            .join(User, User.id == JudgeRanking.judge_id)
            .where(JudgeRanking.round_id == round_id)
        ).all()
        return {name: list(ids) for name, ids in rows}


def _rank(client, order, json: bool = False):
    if json:
        return client.post("/judge/ranking", json={"order": order})
    return client.post("/judge/ranking", data={"order": ",".join(str(i) for i in order)})


def test_a_round_without_scores_switches_to_ranking_and_judges_save_and_revise(
    app, boss, jury, first_round, finalists
):
    _to_ranking(boss, first_round)
    with app.app_context():
        assert db.session.get(Round, first_round).method == "ranking"
    page = jury[0].get("/judge/ranking")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert all(f'data-entry-id="{i}"' in text for i in finalists)
    assert jury[0].get("/judge").headers["Location"].endswith("/judge/ranking")

    a, b, c, d = finalists
    response = _rank(jury[0], [b, a, d, c])
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/judge/ranking")
    response = _rank(jury[0], [c, b, a, d], json=True)
    assert response.status_code == 200
    assert response.get_json() == {"saved": True, "order": [c, b, a, d]}
    assert _saved(app, first_round) == {"judge-1": [c, b, a, d]}  # the latest counts, one row
    # The screen shows the saved order.
    text = jury[0].get("/judge/ranking").get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'data-entry-id="(\d+)"', text)]
    assert shown == [c, b, a, d]
    with app.app_context():
        actions = db.session.scalars(
            select(AuditLog.action).where(AuditLog.action.in_(["rank-entries", "revise-ranking"]))
        ).all()
    assert actions == ["rank-entries", "revise-ranking"]
    # Scores are refused in a ranking round.
    refused = jury[1].post(f"/judge/entries/{a}/score", json={"relevance": 5})
    assert refused.status_code == 409


@pytest.mark.parametrize(
    "order",
    [
        "OUTSIDE",  # an id the round does not hold
        "DUPLICATE",
        "",
        "1,x",
        "99999999999999999999999",
    ],
)
def test_ids_outside_the_round_or_malformed_get_400_and_change_nothing(
    app, boss, jury, first_round, finalists, make_entry, order
):
    _to_ranking(boss, first_round)
    rejected = make_entry(status="rejected")  # in the contest, not in the round
    a, b, c, d = finalists
    assert _rank(jury[0], [a, b, c, d]).status_code == 303
    posted = {
        "OUTSIDE": f"{b},{rejected},{a}",
        "DUPLICATE": f"{b},{b},{a}",
    }.get(order, order)
    form = jury[0].post("/judge/ranking", data={"order": posted})
    assert form.status_code == 400
    assert 'id="order-error"' in form.get_data(as_text=True)
    answer = jury[0].post(
        "/judge/ranking",
        json={"order": [int(p) if p.isdigit() else p for p in posted.split(",")]},
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"]
    assert _saved(app, first_round) == {"judge-1": [a, b, c, d]}


def test_json_answers_and_a_json_order_of_numbers_outside_the_round(
    app, boss, jury, first_round, finalists
):
    _to_ranking(boss, first_round)
    response = jury[0].post("/judge/ranking", json={"order": [finalists[0], 10**6]})
    assert response.status_code == 400
    assert str(10**6) in response.get_json()["error"]
    assert _saved(app, first_round) == {}
    for body in ({"order": [True]}, {"order": 5}, ["x"], {"order": [1.5]}):
        assert jury[0].post("/judge/ranking", json=body).status_code == 400


def test_top_n_keeps_only_the_first_n_and_the_rest_tie_below(
    app, boss, jury, first_round, finalists
):
    _to_ranking(boss, first_round, rank_top=2)
    a, b, c, d = finalists
    assert _rank(jury[0], [a, b, c, d]).status_code == 303
    assert _rank(jury[1], [b, c], json=True).get_json()["order"] == [b, c]
    assert _rank(jury[2], [c, a, d, b], json=True).get_json()["order"] == [c, a]
    assert _saved(app, first_round) == {"judge-1": [a, b], "judge-2": [b, c], "judge-3": [c, a]}
    with app.app_context():
        from contest.services import ranking

        (part,) = [p for p in ranking.schulze_counts(db.session.get(Round, first_round))]
    # d is counted with the left-out entries tied below each judge's top two.
    assert part.count.d == _pairwise(finalists, [[a, b], [b, c], [c, a]])
    assert part.count.d[d][a] == 0 and part.count.d[a][d] == 2
    assert part.count.order[-1] == d  # nobody's pick comes last
    # A cycle a > b > c > a of equal strength: Schulze ties them; the entry id decides.
    assert part.count.order == [a, b, c, d]
    assert part.count.tied_with_next(a)


def test_rank_top_needs_the_ranking_method_and_a_sane_number(app, boss, first_round):
    # (A rank_top sent with another method is ignored: the rounds page always posts the field.)
    for data in (
        {"method": "ranking", "rank_top": "x"},
        {"method": "ranking", "rank_top": 0},
        {"method": "ranking", "rank_top": 101},
    ):
        response = boss.post(f"/admin/rounds/{first_round}/method", data=data)
        assert response.status_code == 400
    with app.app_context():
        round_ = db.session.get(Round, first_round)
        assert (round_.method, round_.rank_top) == ("scoring", None)


def test_a_round_with_scores_cannot_switch_and_a_ranked_round_stays_ranking(
    app, boss, jury, first_round, finalists
):
    _to_ranking(boss, first_round)
    assert _rank(jury[0], finalists).status_code == 303
    response = boss.post(f"/admin/rounds/{first_round}/method", data={"method": "scoring"})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Round, first_round).method == "ranking"


def _csv_rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text, newline="")))


def _wikipedia_round(app, boss, first_round, make_entry, make_user) -> dict[int, int]:
    """Round 1 ranked by 45 judges as in Wikipedia's example; candidate → entry id."""
    ids = {c: make_entry(title=f"후보 {'ABCDE'[c - 1]}") for c in (A, B, C, D, E)}
    _to_ranking(boss, first_round)
    with app.app_context():
        from contest.models import User

        for n, ballot in enumerate(_ballots(WIKIPEDIA)):
            judge = User(username=f"wiki-{n}", role="judge", password_hash="x")
            db.session.add(judge)
            db.session.flush()
            db.session.add(
                JudgeRanking(
                    round_id=first_round, judge_id=judge.id, entry_ids=[ids[c] for c in ballot]
                )
            )
        db.session.commit()
    return ids


def test_leaderboard_and_csv_list_the_schulze_order_rank_first_while_open(
    app, boss, first_round, make_entry, make_user
):
    ids = _wikipedia_round(app, boss, first_round, make_entry, make_user)
    expected = [ids[c] for c in (E, A, C, B, D)]
    with app.app_context():
        assert db.session.get(Round, first_round).status == "open"

    page = boss.get(f"/admin/leaderboard?round={first_round}").get_data(as_text=True)
    shown = list(dict.fromkeys(int(i) for i in re.findall(r"/admin/entries/(\d+)", page)))
    assert shown == expected
    assert "슐체" in page

    response = boss.get(f"/admin/export/leaderboard.csv?round={first_round}")
    assert response.status_code == 200
    rows = _csv_rows(response)
    assert rows[0][0] == "순위"
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    titles = [r[2] for r in rows[1:]]
    assert titles == ["후보 E", "후보 A", "후보 C", "후보 B", "후보 D"]

    explained = boss.get(f"/admin/rounds/{first_round}/schulze")
    assert explained.status_code == 200
    text = explained.get_data(as_text=True)
    assert "<td>28</td>" in text and "<td>31</td>" in text  # p[A][C], d[E][D]


def test_closing_shows_the_order_then_freezes_it_and_awards_follow_it(
    app, boss, jury, first_round, make_entry, make_user
):
    ids = _wikipedia_round(app, boss, first_round, make_entry, make_user)
    # Scores a scoring round would have ranked the other way round must not decide now.
    preview = boss.get(f"/admin/rounds/{first_round}/close")
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert text.index("후보 E") < text.index("후보 A") < text.index("후보 D")
    digest = re.search(r'name="digest" type="hidden" value="([0-9a-f]+)"', text).group(1)

    response = boss.post(
        f"/admin/rounds/{first_round}/close",
        data={"threshold": "0.5", "next_method": "scoring", "digest": digest},
    )
    assert response.status_code == 303
    with app.app_context():
        round_ = db.session.get(Round, first_round)
        assert round_.status == "closed"
        assert db.session.scalar(select(Round.id).where(Round.number == 2)) is None
    # Closed: the order can no longer be revised.
    refused = _rank(jury[0], [ids[D]], json=True)
    assert refused.status_code == 409
    # Awards follow the Schulze order: 대상 to E, 최우수상 to A, 우수상 to C and B, 장려상 to D.
    assert boss.post("/admin/awards/propose").status_code == 303
    with app.app_context():
        given = db.session.execute(select(Award.entry_id, Award.tier, Award.rank)).all()
    assert sorted(given, key=lambda g: g[2]) == [
        (ids[E], "grand", 1),
        (ids[A], "gold", 2),
        (ids[C], "silver", 3),
        (ids[B], "silver", 4),
        (ids[D], "bronze", 5),
    ]


def test_a_changed_ranking_after_the_preview_makes_the_close_refuse(
    app, boss, jury, first_round, finalists
):
    _to_ranking(boss, first_round)
    a, b, c, d = finalists
    _rank(jury[0], [a, b, c, d])
    text = boss.get(f"/admin/rounds/{first_round}/close").get_data(as_text=True)
    digest = re.search(r'name="digest" type="hidden" value="([0-9a-f]+)"', text).group(1)
    _rank(jury[0], [d, c, b, a])
    response = boss.post(
        f"/admin/rounds/{first_round}/close",
        data={"threshold": "0.5", "next_method": "scoring", "digest": digest},
    )
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Round, first_round).status == "open"


def test_awards_use_the_closed_ranking_round_even_when_a_later_round_is_open(
    app, boss, first_round, make_entry, make_user
):
    ids = _wikipedia_round(app, boss, first_round, make_entry, make_user)
    with app.app_context():
        round_ = db.session.get(Round, first_round)
        round_.status, round_.closed_at = "closed", utcnow()
        db.session.flush()
        later = Round(
            contest_id=round_.contest_id,
            number=2,
            name="2차 심사",
            method="scoring",
            status="open",
            takes_all_entries=False,
            opened_at=utcnow(),
        )
        db.session.add(later)
        db.session.flush()
        db.session.add(RoundEntry(round_id=later.id, entry_id=ids[D]))
        db.session.commit()
    assert boss.post("/admin/awards/propose").status_code == 303
    with app.app_context():
        grand = db.session.scalar(select(Award.entry_id).where(Award.tier == "grand"))
    assert grand == ids[E]


def test_the_previous_rounds_mean_breaks_a_schulze_tie(
    app, boss, jury, first_round, finalists, make_entry
):
    """Round 1 scored, round 2 ranks its finalists: a tie goes to the higher round-1 mean."""
    a, b, c, d = finalists
    make_entry(title="진출 못 한 작품")  # in round 1 only: never on round 2's board
    means = {a: 6.0, b: 9.0, c: 7.0, d: 8.0}
    with app.app_context():
        from contest.models import User

        scorer = db.session.scalar(select(User.id).where(User.username == "judge-1"))
        for entry_id, mean in means.items():
            db.session.add(
                Score(round_id=first_round, entry_id=entry_id, judge_id=scorer, total=mean)
            )
        first = db.session.get(Round, first_round)
        first.status, first.closed_at = "closed", utcnow()
        db.session.flush()
        final = Round(
            contest_id=first.contest_id,
            number=2,
            name="2차 심사",
            method="ranking",
            status="open",
            takes_all_entries=False,
            opened_at=utcnow(),
        )
        db.session.add(final)
        db.session.flush()
        db.session.add_all(RoundEntry(round_id=final.id, entry_id=i) for i in finalists)
        db.session.commit()
        final_id = final.id
    # Two opposite rankings: Schulze ties all four.
    _rank(jury[0], [a, b, c, d])
    _rank(jury[1], [d, c, b, a])
    rows = _csv_rows(boss.get(f"/admin/export/leaderboard.csv?round={final_id}"))
    assert [r[5] for r in rows[1:]] == ["9.00", "8.00", "7.00", "6.00"]
    assert [r[2] for r in rows[1:]] == ["결선작 2", "결선작 4", "결선작 3", "결선작 1"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_the_ranking_screen_carries_the_csrf_token_and_the_plain_form(
    app, boss, jury, first_round, finalists
):
    _to_ranking(boss, first_round)
    text = jury[0].get("/judge/ranking").get_data(as_text=True)
    assert 'name="csrf_token"' in text
    assert 'name="order"' in text and 'action="/judge/ranking"' in text
    assert "ranking.js" in text
    # A strict CSP holds: the script is a static file, no inline script or style.
    assert not re.search(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", text)


def test_english_pages_of_a_ranking_round_have_no_korean_left(
    app, boss, jury, first_round, make_entry
):
    from .test_i18n import _english, _hangul_in

    ids = [make_entry(title=f"Final {n}") for n in range(1, 4)]
    _english(boss)  # (a flash is kept in the language it was said in)
    _to_ranking(boss, first_round, rank_top=2)
    _english(jury[0])
    _rank(jury[0], ids)
    for client, paths in (
        (jury[0], ["/judge/ranking"]),
        (
            boss,
            [
                f"/admin/rounds/{first_round}/schulze",
                f"/admin/leaderboard?round={first_round}",
                f"/admin/rounds/{first_round}/close",
                "/admin/rounds",
            ],
        ),
    ):
        _english(client)
        for path in paths:
            page = client.get(path)
            assert page.status_code == 200, path
            # Category and round names are stored in Korean and translated by name.
            assert _hangul_in(page.get_data(as_text=True)) == [], path


def test_the_cli_and_the_other_results_pages_read_a_ranking_round(
    app, boss, first_round, make_entry, make_user, tmp_path
):
    ids = _wikipedia_round(app, boss, first_round, make_entry, make_user)
    target = tmp_path / "board.csv"
    result = app.test_cli_runner().invoke(args=["leaderboard", "--csv", str(target)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(target.read_bytes().decode("utf-8-sig"), newline="")))
    assert rows[0][0] == "순위" and [r[2] for r in rows[1:]][0] == "후보 E"
    printed = app.test_cli_runner().invoke(args=["leaderboard"]).output
    assert printed.index("후보 E") < printed.index("후보 D")
    assert len(ids) == 5
    assert boss.get(f"/admin/judging?round={first_round}").status_code == 200
    boss.post("/admin/awards/propose")
    assert boss.get("/admin/awards").status_code == 200
    assert boss.get("/admin/export/winners.csv").status_code == 200


def test_the_schulze_page_lists_who_has_ranked_and_who_not_yet(
    app, boss, jury, first_round, finalists
):
    _to_ranking(boss, first_round, rank_top=3)
    _rank(jury[1], finalists)
    page = boss.get(f"/admin/rounds/{first_round}/schulze").get_data(as_text=True)
    rows = dict(re.findall(r'<th scope="row">(judge-\d)</th><td>([^<]*)</td>', page))
    assert rows == {"judge-1": "—", "judge-2": "3", "judge-3": "—"}
    assert boss.get("/admin/rounds/999/schulze").status_code == 404
    with app.app_context():
        db.session.get(Round, first_round).method = "scoring"
        db.session.execute(db.delete(JudgeRanking))
        db.session.commit()
    assert boss.get(f"/admin/rounds/{first_round}/schulze").status_code == 404
