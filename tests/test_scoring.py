"""Results: aggregates, the ranking and its tie-break rule, leniency, CSV export, closing rounds."""

from __future__ import annotations

import csv
import io
import math
import re

import pytest
from sqlalchemy import event, func, select

from contest.core.extensions import db
from contest.models import AuditLog, Entry, Recusal, Round, RoundEntry, Score, User
from contest.services import exports, ranking, rounds
from contest.services.rounds import total_of


@pytest.fixture
def round_id(app) -> int:
    """The seeded contest's open scoring round (relevance 40, creativity 30, quality 30)."""
    with app.app_context():
        return db.session.scalar(select(Round.id).where(Round.status == "open"))


@pytest.fixture
def give(app, round_id):
    """Record a judge's score: give(entry, judge, 7) for 7 on every criterion,
    give(entry, judge, (8, 6, 7)) per criterion, or give(entry, judge, True) in screening."""

    def record(entry_id: int, judge_id: int, value, round_id: int = round_id) -> float:
        with app.app_context():
            round_ = db.session.get(Round, round_id)
            if round_.method == "screening":
                values = {"verdict": bool(value)}
            else:
                triple = value if isinstance(value, tuple) else (value,) * 3
                values = dict(zip([c.slug for c in round_.criteria], triple, strict=True))
            total = total_of(round_, values)
            db.session.add(
                Score(
                    round_id=round_id,
                    entry_id=entry_id,
                    judge_id=judge_id,
                    values=values,
                    total=total,
                )
            )
            db.session.commit()
            return total

    return record


@pytest.fixture
def judges(make_user) -> list[int]:
    return [make_user(f"judge-{n}") for n in range(1, 4)]


def standings(app, round_id, quorum=3) -> list[ranking.Standing]:
    with app.app_context():
        return ranking.leaderboard(db.session.get(Round, round_id), quorum)


def make_screening(app, round_id) -> None:
    with app.app_context():
        round_ = db.session.get(Round, round_id)
        round_.method = "screening"
        round_.criteria.clear()
        db.session.commit()


def receipts_on_page(html: str) -> list[str]:
    return re.findall(r'data-receipt="([A-Z0-9]+)"', html)


# --- Aggregates and order -------------------------------------------------------------------


def test_weighted_means_stdev_spread_and_order(app, round_id, judges, make_entry, give):
    a, b, c = make_entry("A"), make_entry("B"), make_entry("C")
    j1, j2, j3 = judges
    # Weighted totals by hand: relevance 40%, creativity 30%, quality 30%.
    assert give(a, j1, (8, 6, 7)) == pytest.approx((8 * 40 + 6 * 30 + 7 * 30) / 100)  # 7.1
    give(a, j2, (9, 9, 9))  # 9.0
    assert give(a, j3, (5, 10, 4)) == pytest.approx(6.2)  # (200 + 300 + 120) / 100
    for judge in judges:
        give(b, judge, 6)
    give(c, j1, 10)
    give(c, j2, 10)
    give(c, j3, 1)

    rows = {s.title: s for s in standings(app, round_id)}
    mean_a = (7.1 + 9.0 + 6.2) / 3
    assert rows["A"].mean == pytest.approx(7.4333333)
    assert rows["A"].stdev == pytest.approx(
        math.sqrt(((7.1 - mean_a) ** 2 + (9.0 - mean_a) ** 2 + (6.2 - mean_a) ** 2) / 3)
    )  # population: divide by n
    assert rows["A"].stdev == pytest.approx(1.16714, abs=1e-5)
    assert rows["A"].spread == pytest.approx(2.8)
    assert rows["B"].mean == pytest.approx(6.0)
    assert rows["B"].stdev == 0.0 and rows["B"].spread == 0.0
    assert rows["C"].mean == pytest.approx(7.0)
    assert rows["C"].stdev == pytest.approx(math.sqrt((3**2 + 3**2 + 6**2) / 3))
    assert rows["C"].spread == pytest.approx(9.0)
    assert [s.title for s in standings(app, round_id)] == ["A", "C", "B"]
    assert [s.rank for s in standings(app, round_id)] == [1, 2, 3]
    assert all(s.scores == 3 and not s.below_quorum for s in rows.values())


def test_ranks_are_per_category(app, round_id, judges, make_entry, give):
    photo, video = make_entry("사진 작품"), make_entry("영상 작품", kind="video")
    for judge in judges:
        give(photo, judge, 5)
        give(video, judge, 9)
    rows = standings(app, round_id)
    assert [(s.category, s.title, s.rank) for s in rows] == [
        ("사진", "사진 작품", 1),
        ("영상", "영상 작품", 1),
    ]


def test_harsh_and_lenient_judges_are_normalised(app, round_id, make_user, make_entry, give):
    harsh, lenient = make_user("harsh"), make_user("lenient")
    calibration = [make_entry(f"E{n}") for n in (1, 2, 3)]
    # Y is older than X, so the last tie-break (entry id) alone would put Y first.
    y, x = make_entry("Y"), make_entry("X")
    for entry, value in zip(calibration, (3, 5, 7), strict=True):
        give(entry, harsh, value)
        give(entry, lenient, value + 2)  # always 2 higher than the harsh judge
    give(x, harsh, 7)  # the harsh judge's best score
    give(y, lenient, 7)  # the lenient judge's average

    rows = {s.title: s for s in standings(app, round_id, quorum=1)}
    # harsh: 3, 5, 7, 7 → mean 5.5, population std √(11/4); lenient: 5, 7, 9, 7 → 7, √2.
    sd_harsh, sd_lenient = math.sqrt(11 / 4), math.sqrt(2)
    assert rows["X"].normalised == pytest.approx((7 - 5.5) / sd_harsh)
    assert rows["Y"].normalised == pytest.approx(0.0)
    assert rows["E1"].normalised == pytest.approx(((3 - 5.5) / sd_harsh + (5 - 7) / sd_lenient) / 2)
    # Same mean (7.0): the normalised score breaks the tie in X's favour, as a fair panel would.
    assert rows["X"].mean == rows["Y"].mean == pytest.approx(7.0)
    order = [s.title for s in standings(app, round_id, quorum=1)]
    assert order.index("X") < order.index("Y")
    # On the calibration entries the normalised scores order them as their means do.
    assert rows["E3"].normalised > rows["E2"].normalised > rows["E1"].normalised


def test_tie_on_mean_and_normalised_goes_to_more_scores_then_lower_id(
    app, round_id, make_user, make_entry, give
):
    flat1, flat2, flat3 = make_user("flat1"), make_user("flat2"), make_user("flat3")
    older_single, fewer, more = make_entry("older"), make_entry("fewer"), make_entry("more")
    newer_single = make_entry("newer")
    # Every judge gives the same total to everything: no spread, so every z-score is 0.
    give(fewer, flat1, 7)
    give(more, flat2, 7)
    give(more, flat3, 7)
    give(older_single, flat1, 7)
    give(newer_single, flat3, 7)
    rows = standings(app, round_id, quorum=1)
    assert all(s.normalised == 0.0 for s in rows)
    assert [s.title for s in rows] == ["more", "older", "fewer", "newer"]


def test_a_judge_without_spread_moves_nobody(app, round_id, make_user, make_entry, give):
    steady, varied, single = make_user("steady"), make_user("varied"), make_user("single")
    entries = [make_entry() for _ in range(5)]
    for n, entry in enumerate(entries):
        give(entry, steady, (8, 6, 7))  # 7.1 every time, a float with no exact binary form
        give(entry, varied, n + 3)
    give(entries[0], single, 10)  # a judge's only score
    rows = {s.entry_id: s for s in standings(app, round_id, quorum=1)}
    # Only the varied judge's z-scores count: (n + 3 − 5) / √2, averaged over 2 or 3 judges.
    for n, entry in enumerate(entries):
        judges_of_entry = 3 if n == 0 else 2
        expected = ((n + 3 - 5) / math.sqrt(2)) / judges_of_entry
        assert rows[entry].normalised == pytest.approx(expected, abs=1e-9)


def test_below_quorum_entries_follow_unranked_and_marked(
    app, round_id, judges, make_entry, give, admin, client
):
    late = make_entry("late")  # the best scores, but only two judges so far
    ranked_low, ranked_high = make_entry("low"), make_entry("high")
    make_entry("unscored")
    give(late, judges[0], 10)
    give(late, judges[1], 10)
    for judge in judges:
        give(ranked_low, judge, 4)
        give(ranked_high, judge, 8)
    rows = standings(app, round_id)
    assert [(s.title, s.rank, s.below_quorum) for s in rows] == [
        ("high", 1, False),
        ("low", 2, False),
        ("late", None, True),
        ("unscored", None, True),
    ]
    assert rows[3].mean is None and rows[3].scores == 0

    page = client.get("/admin/leaderboard").get_data(as_text=True)
    late_row = re.search(r'<tr class="below-quorum">.*?</tr>', page, re.S).group(0)
    assert "정족수 미달" in late_row and "late" in late_row
    assert page.count('class="below-quorum"') == 2


def test_recused_judges_are_left_out(app, round_id, judges, make_entry, give):
    entry = make_entry("A")
    give(entry, judges[0], 8)
    give(entry, judges[1], 6)
    give(entry, judges[2], 1)  # scored, then declared a conflict of interest
    with app.app_context():
        db.session.add(Recusal(entry_id=entry, judge_id=judges[2]))
        db.session.commit()
    (row,) = standings(app, round_id, quorum=2)
    assert row.scores == 2
    assert row.mean == pytest.approx(7.0)
    assert row.spread == pytest.approx(2.0)
    with app.app_context():
        stats = {s.judge_id: s for s in ranking.judge_stats(db.session.get(Round, round_id))}
    assert stats[judges[2]].scored == 0 and stats[judges[2]].recused == 1
    assert stats[judges[2]].todo == 0
    assert stats[judges[0]].todo == 0 and stats[judges[0]].scored == 1


def test_rejected_entries_are_left_out(app, round_id, judges, make_entry, give):
    kept = make_entry("kept")
    rejected = make_entry("rejected")
    for judge in judges:
        give(kept, judge, 5)
        give(rejected, judge, 10)
    with app.app_context():
        db.session.get(Entry, rejected).status = "rejected"
        db.session.commit()
    rows = standings(app, round_id)
    assert [s.title for s in rows] == ["kept"]
    with app.app_context():
        stats = ranking.judge_stats(db.session.get(Round, round_id))
    assert {s.scored for s in stats} == {1}
    assert {s.mean for s in stats} == {5.0}


def test_leaderboard_runs_a_fixed_number_of_queries(app, round_id, judges, make_entry, give):
    def count_queries(n_entries: int) -> int:
        for _ in range(n_entries):
            entry = make_entry()
            for judge in judges:
                give(entry, judge, 5)
        statements = []
        with app.app_context():
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                ranking.leaderboard(db.session.get(Round, round_id), 3)
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    assert count_queries(2) == count_queries(10)


# --- CSV export -----------------------------------------------------------------------------


def test_csv_export(app, round_id, judges, make_entry, give, admin, client):
    hostile = make_entry('=HYPERLINK("http://evil.example","클릭")')
    plain = make_entry("코엑스의 아침")
    give(hostile, judges[0], (8, 6, 7))  # 7.1
    give(hostile, judges[1], (9, 9, 9))
    give(hostile, judges[2], (5, 10, 4))  # 6.2
    for judge in judges:
        give(plain, judge, 5)

    response = client.get("/admin/export/leaderboard.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=leaderboard-round-1.csv"
    )
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Korean Excel needs to read UTF-8
    text = body.decode("utf-8-sig")
    for line in text.strip().split("\r\n"):
        assert line.startswith('"') and line.endswith('"')  # every field quoted
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(exports.CSV_HEADER)
    first = rows[1]
    assert first[2] == "'" + '=HYPERLINK("http://evil.example","클릭")'
    assert first[1] == "1"
    assert first[5] == "7.43"  # (7.1 + 9 + 6.2) / 3, two decimals
    assert first[6] == "1.17"
    assert first[7] == "2.80"
    assert '"\'=HYPERLINK(""http://evil.example"",""클릭"")"' in text
    assert rows[2][2] == "코엑스의 아침" and rows[2][5] == "5.00"

    with app.app_context():
        log = db.session.scalars(select(AuditLog).where(AuditLog.action == "export-leaderboard"))
        (entry,) = log.all()
        assert entry.user_id == admin and entry.target == f"round:{round_id}"
        assert entry.at is not None


@pytest.mark.parametrize(
    "start", ["=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠", "\u200b=", "\ufeff="]
)
def test_csv_neutralises_every_formula_start(start):
    standing = ranking.Standing(
        entry_id=1,
        category_id=1,
        category="사진",
        title=f"{start}1+1",
        receipt="ABCDEFGHJKLMN",
        scores=3,
        mean=-0.5,
        stdev=None,
        spread=None,
        normalised=-1.234,
        rank=1,
        below_quorum=False,
    )
    (row,) = list(csv.reader(io.StringIO(exports.leaderboard_csv([standing]).decode("utf-8-sig"))))[
        1:
    ]
    assert row[2] == f"'{start}1+1"
    assert row[5] == "-0.50" and row[8] == "-1.23"  # our own numbers stay numbers


# --- Judges' progress and leniency ----------------------------------------------------------


def test_judging_page_flags_a_harsh_judge(app, round_id, make_user, make_entry, give, client):
    fair1, fair2, harsh = make_user("fair1"), make_user("fair2"), make_user("harsh")
    make_user("boss", role="admin")
    idle = make_user("idle")
    entries = [make_entry() for _ in range(3)]
    for entry, value in zip(entries, (7, 8, 6), strict=True):
        give(entry, fair1, value)
        give(entry, fair2, value)
        give(entry, harsh, value - 5)

    with app.app_context():
        stats = {s.judge_id: s for s in ranking.judge_stats(db.session.get(Round, round_id))}
    assert stats[harsh].flag == "harsh"
    assert stats[fair1].flag is None and stats[fair2].flag is None
    # Panel: 7, 8, 6 twice and 2, 3, 1 → mean 48/9; the harsh judge sits 1.28 σ below it.
    assert stats[harsh].panel_mean == pytest.approx(48 / 9)
    assert stats[harsh].mean == pytest.approx(2.0)
    assert stats[harsh].stdev == pytest.approx(math.sqrt(2 / 3))
    assert stats[idle].scored == 0 and stats[idle].todo == 3 and stats[idle].mean is None

    client.post("/login", data={"username": "boss", "password": "correct horse battery"})
    page = client.get("/admin/judging").get_data(as_text=True)
    assert f'<tr data-judge="{harsh}" data-flag="harsh">' in page
    assert f'<tr data-judge="{fair1}">' in page
    assert "엄격" in page


def test_a_lenient_judge_is_flagged_too(app, round_id, make_user, make_entry, give):
    fair1, fair2, lenient = make_user("fair1"), make_user("fair2"), make_user("lenient")
    for value in (3, 4, 5):
        entry = make_entry()
        give(entry, fair1, value)
        give(entry, fair2, value)
        give(entry, lenient, value + 5)
    with app.app_context():
        stats = {s.judge_id: s for s in ranking.judge_stats(db.session.get(Round, round_id))}
    assert stats[lenient].flag == "lenient"
    assert stats[fair1].flag is None


def test_round_progress(app, round_id, judges, make_entry, give):
    done, half = make_entry(), make_entry()
    make_entry()
    for judge in judges:
        give(done, judge, 5)
    give(half, judges[0], 5)
    with app.app_context():
        progress = ranking.round_progress(db.session.get(Round, round_id), 3)
    assert (progress.entries, progress.scores, progress.at_quorum, progress.below_quorum) == (
        3,
        4,
        1,
        2,
    )
    assert progress.percent == 33


# --- Closing a round ------------------------------------------------------------------------


def _digest(page: str) -> str:
    return re.search(r'name="digest" type="hidden" value="([0-9a-f]+)"', page).group(1)


def test_screening_close_commits_exactly_the_preview(
    app, round_id, judges, make_entry, give, admin, client
):
    make_screening(app, round_id)
    votes = {
        "all yes": (1, 1, 1),
        "two yes": (1, 1, 0),
        "one yes": (1, 0, 0),
        "no": (0, 0, 0),
        "late yes": (1, 1),  # below the quorum: does not advance whatever its share
    }
    ids = {}
    for title, verdicts in votes.items():
        ids[title] = make_entry(title)
        for judge, verdict in zip(judges, verdicts, strict=False):
            give(ids[title], judge, verdict)
    rejected = make_entry("rejected")
    for judge in judges:
        give(rejected, judge, 1)
    with app.app_context():
        db.session.get(Entry, rejected).status = "rejected"
        db.session.commit()

    page = client.get(f"/admin/rounds/{round_id}/close").get_data(as_text=True)
    assert re.search(r'id="advance-count">2<', page)  # threshold 0.5 by default
    assert 'id="below-quorum-count">1<' in page
    strict = client.get(f"/admin/rounds/{round_id}/close?threshold=0.7").get_data(as_text=True)
    assert re.search(r'id="advance-count">1<', strict)
    at_threshold = client.get(f"/admin/rounds/{round_id}/close?threshold=1").get_data(as_text=True)
    assert re.search(r'id="advance-count">1<', at_threshold)  # a share equal to it advances
    with app.app_context():
        preview = rounds.close_preview(db.session.get(Round, round_id), 3, 0.5)
        shown = {s.entry_id for s in preview.advancing}
    assert shown == {ids["all yes"], ids["two yes"]}
    assert set(_receipts(app, shown)) == set(
        receipts_on_page(page.split("진출 작품")[1].split("</table>")[0])
    )

    response = client.post(
        f"/admin/rounds/{round_id}/close",
        data={"threshold": "0.5", "next_method": "scoring", "digest": _digest(page)},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/leaderboard?round={round_id}"
    with app.app_context():
        old = db.session.get(Round, round_id)
        assert old.status == "closed" and old.closed_at is not None
        (new,) = db.session.scalars(select(Round).where(Round.status == "open")).all()
        assert new.number == 2 and new.method == "scoring" and not new.takes_all_entries
        assert [(c.slug, c.weight) for c in new.criteria] == [
            ("relevance", 40),
            ("creativity", 30),
            ("quality", 30),
        ]
        advanced = set(
            db.session.scalars(select(RoundEntry.entry_id).where(RoundEntry.round_id == new.id))
        )
        assert advanced == shown
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "close-round"))
        assert log.user_id == admin and log.new["advanced"] == 2 and log.new["next_round"] == new.id
        assert db.session.scalar(select(func.count()).where(Round.status == "open")) == 1


def test_closing_refuses_when_the_scores_changed_since_the_preview(
    app, round_id, judges, make_entry, give, admin, client
):
    make_screening(app, round_id)
    entry = make_entry()
    give(entry, judges[0], 1)
    give(entry, judges[1], 1)
    page = client.get(f"/admin/rounds/{round_id}/close").get_data(as_text=True)
    assert 'id="advance-count">0<' in page
    give(entry, judges[2], 1)  # the third vote arrives after the admin looked
    response = client.post(
        f"/admin/rounds/{round_id}/close",
        data={"threshold": "0.5", "next_method": "scoring", "digest": _digest(page)},
    )
    assert response.status_code == 409
    assert "다시 확인" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Round, round_id).status == "open"
        assert db.session.scalar(select(func.count()).select_from(Round)) == 1


def test_screening_into_screening(app, round_id, judges, make_entry, give, admin, client):
    make_screening(app, round_id)
    entry = make_entry()
    for judge in judges:
        give(entry, judge, 1)
    page = client.get(f"/admin/rounds/{round_id}/close").get_data(as_text=True)
    client.post(
        f"/admin/rounds/{round_id}/close",
        data={"threshold": "0.5", "next_method": "screening", "digest": _digest(page)},
    )
    with app.app_context():
        new = db.session.scalar(select(Round).where(Round.status == "open"))
        assert new.method == "screening" and new.criteria == []
        round_ = db.session.get(Round, new.id)
        assert [s.entry_id for s in ranking.leaderboard(round_, 3)] == [entry]


def test_closing_a_scoring_round_with_late_judges(
    app, round_id, judges, make_entry, give, admin, client
):
    done, late = make_entry("done"), make_entry("late")
    for judge in judges:
        give(done, judge, 8)
    give(late, judges[0], 9)
    page = client.get(f"/admin/rounds/{round_id}/close").get_data(as_text=True)
    assert 'id="below-quorum-count">1<' in page
    assert receipts_on_page(page.split("정족수 미달 작품")[1]) == _receipts(app, [late])
    response = client.post(
        f"/admin/rounds/{round_id}/close", data={"threshold": "0.5", "digest": _digest(page)}
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Round, round_id).status == "closed"
        assert db.session.scalar(select(func.count()).where(Round.status == "open")) == 0
    # The closed round stays the one results are shown for.
    board = client.get("/admin/leaderboard").get_data(as_text=True)
    assert receipts_on_page(board) == _receipts(app, [done, late])
    again = client.post(
        f"/admin/rounds/{round_id}/close", data={"threshold": "0.5", "digest": _digest(page)}
    )
    assert again.status_code == 409


@pytest.mark.parametrize("threshold", ["1.5", "-0.1", "nan", "abc"])
def test_close_rejects_a_bad_threshold(app, round_id, admin, client, threshold):
    preview = client.get(f"/admin/rounds/{round_id}/close?threshold={threshold}")
    assert preview.status_code == 400
    assert "0과 1 사이" in preview.get_data(as_text=True)
    response = client.post(
        f"/admin/rounds/{round_id}/close",
        data={"threshold": threshold, "next_method": "scoring", "digest": "x"},
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Round, round_id).status == "open"


# --- Other rounds and the command line ------------------------------------------------------


def test_another_round_by_id_and_unknown_rounds(app, round_id, admin, client):
    assert client.get(f"/admin/leaderboard?round={round_id}").status_code == 200
    assert client.get("/admin/leaderboard?round=999").status_code == 404
    assert client.get("/admin/leaderboard?round=abc").status_code == 404
    assert client.get("/admin/rounds/999/close").status_code == 404


def test_cli_prints_the_same_order_as_the_page(
    app, round_id, judges, make_entry, give, admin, client, runner, tmp_path
):
    entries = [make_entry(f"작품 {n}") for n in range(6)]
    for n, entry in enumerate(entries):
        for i, judge in enumerate(judges[: 2 + n % 2]):
            give(entry, judge, (n * 7 + i * 3) % 10 + 1)
    video = make_entry("영상", kind="video")
    give(video, judges[0], 5)

    page_order = receipts_on_page(client.get("/admin/leaderboard").get_data(as_text=True))
    result = runner.invoke(args=["leaderboard"])
    assert result.exit_code == 0, result.output
    cli_order = [
        r.replace("-", "") for r in re.findall(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-\w+", result.output)
    ]
    assert cli_order == page_order and len(page_order) == 7
    assert "below quorum" in result.output

    assert runner.invoke(args=["leaderboard", "--round", "1"]).output == result.output
    assert runner.invoke(args=["leaderboard", "--round", "9"]).exit_code != 0

    path = tmp_path / "board.csv"
    written = runner.invoke(args=["leaderboard", "--csv", str(path)])
    assert written.exit_code == 0, written.output
    assert path.read_bytes() == client.get("/admin/export/leaderboard.csv").get_data()


def _receipts(app, entry_ids) -> list[str]:
    with app.app_context():
        return [db.session.get(Entry, i).receipt for i in entry_ids]


def test_judges_listed_are_active_judges(app, round_id, make_user, make_entry, give):
    active, gone = make_user("active"), make_user("gone")
    unused = make_user("unused")
    entry = make_entry()
    give(entry, gone, 5)
    with app.app_context():
        db.session.get(User, gone).active = False
        db.session.get(User, unused).active = False
        db.session.commit()
        stats = {s.judge_id: s for s in ranking.judge_stats(db.session.get(Round, round_id))}
    assert set(stats) == {active, gone}  # a disabled judge's counted scores still show
    assert not stats[gone].active


# --- The leaderboard page: a fixed number of rows per category ------------------------------


def test_the_page_shows_the_leaderboard_in_slices_per_category(
    app, client, admin, round_id, judges, make_entry, give, monkeypatch
):
    from contest.admin import results as admin_results

    monkeypatch.setattr(admin_results, "LEADERBOARD_PER_PAGE", 2)
    photos = [make_entry(f"사진 {n}") for n in range(5)]
    for n, entry in enumerate(photos):
        for judge in judges[: 3 if n < 4 else 1]:  # the last one is below the quorum
            give(entry, judge, 9 - n)
    make_entry("점수 없는 사진")
    video = make_entry("영상", kind="video")
    give(video, judges[0], 5)
    board = standings(app, round_id)
    photo_order = [s.receipt for s in board if s.category == "사진"]
    assert len(photo_order) == 6

    first = client.get("/admin/leaderboard").get_data(as_text=True)
    assert receipts_on_page(first) == photo_order[:2] + [s.receipt for s in board[-1:]]
    assert "전체 순위는 CSV 파일에 있습니다" in first
    with app.app_context():
        photo_category = db.session.get(Entry, photos[0]).category_id
    more = f"/admin/leaderboard?round={round_id}&amp;category={photo_category}&amp;page=2"
    assert more in first

    pages = [
        client.get(f"/admin/leaderboard?category={photo_category}&page={n}") for n in (1, 2, 3, 4)
    ]
    assert all(p.status_code == 200 for p in pages)
    seen = [receipts_on_page(p.get_data(as_text=True)) for p in pages]
    assert seen == [photo_order[0:2], photo_order[2:4], photo_order[4:6], []]
    last = pages[2].get_data(as_text=True)
    assert "6개 중 5–6번째" in last and "page=4" not in last  # no next link after the end
    assert "점수를 받은 작품 5개, 아직 점수가 없는 작품 1개" in last
    assert client.get("/admin/leaderboard?category=999").status_code == 404


def test_the_page_slices_are_the_leaderboard_itself(app, round_id, judges, make_entry, give):
    entries = [make_entry(f"작품 {n}", kind="video" if n % 3 == 0 else "photo") for n in range(12)]
    for n, entry in enumerate(entries):
        for i, judge in enumerate(judges[: n % 4]):
            give(entry, judge, (n * 5 + i * 3) % 10 + 1)
    with app.app_context():
        round_ = db.session.get(Round, round_id)
        whole = ranking.leaderboard(round_, 3)
        for per_page in (1, 2, 5, 50):
            pieced = []
            for page in range(1, 14):
                for part in ranking.leaderboard_pages(round_, 3, per_page, page):
                    pieced.extend((part.category_id, s) for s in part.standings)
            pieced.sort(key=lambda pair: [s.category_id for s in whole].index(pair[0]))
            assert [s for _, s in pieced] == whole, per_page


def test_the_page_does_not_read_the_unscored_entries_when_scored_ones_fill_it(
    app, client, admin, round_id, judges, make_entry, give, monkeypatch
):
    from contest.admin import results as admin_results

    monkeypatch.setattr(admin_results, "LEADERBOARD_PER_PAGE", 1)
    scored = make_entry("점수 있음")
    give(scored, judges[0], 7)
    make_entry("점수 없음")
    monkeypatch.setattr(ranking, "_unscored_query", None)  # would fail if it were called
    page = client.get(f"/admin/leaderboard?round={round_id}").get_data(as_text=True)
    assert "점수 있음" in page and "점수 없음" not in page


def test_the_leaderboard_shows_each_entry_s_thumbnail_linked_to_its_page(
    app, client, admin, judges, make_entry, give
):
    scored, unscored = make_entry("점수 받은 작품"), make_entry("점수 없는 작품")
    for judge_id in judges:
        give(scored, judge_id, 7)
    page = client.get("/admin/leaderboard").get_data(as_text=True)
    for entry_id in (scored, unscored):
        with app.app_context():
            thumb = db.session.get(Entry, entry_id).asset("thumbnail").key
        row = re.search(
            rf"<tr[^>]*>\s*<td>[^<]*(?:<span[^>]*>[^<]*</span>)?</td>\s*"
            rf'<td class="thumb-cell"><a href="/admin/entries/{entry_id}">'
            rf'<img src="/media/{re.escape(thumb)}"[^>]*></a></td>\s*'
            rf'<td><a href="/admin/entries/{entry_id}">([^<]*)</a></td>',
            page,
        )
        assert row, entry_id
    assert "점수 받은 작품" in page and "점수 없는 작품" in page
