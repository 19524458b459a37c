"""The judge's screens: dispatch, blind entry pages, scoring and revising, recusal, guards."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import event, func, select
from werkzeug.datastructures import MultiDict

from contest.core.extensions import db
from contest.models import Asset, AuditLog, Entry, Recusal, Round, Score, User, utcnow

from .conftest import PASSWORD, csrf_token

GOOD = {"relevance": "8", "creativity": "7", "quality": "9"}
CLEAN = {"relevance": 8, "creativity": 7, "quality": 9}  # what the form hands the service


# --- helpers ----------------------------------------------------------------------------------


def _round_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Round.id).where(Round.status == "open"))


def _set_round(app, **fields) -> None:
    with app.app_context():
        round_ = db.session.scalar(select(Round).order_by(Round.id))
        for name, value in fields.items():
            setattr(round_, name, value)
        db.session.commit()


def _add_score(app, entry_id: int, judge_id: int, total: float = 5.0) -> None:
    """A score from another judge, inserted directly."""
    with app.app_context():
        values = {"relevance": 5, "creativity": 5, "quality": 5}
        db.session.add(
            Score(
                round_id=_round_id(app),
                entry_id=entry_id,
                judge_id=judge_id,
                values=values,
                total=total,
            )
        )
        db.session.commit()


def _scores(app, entry_id: int | None = None) -> list[Score]:
    with app.app_context():
        query = select(Score).order_by(Score.id)
        if entry_id is not None:
            query = query.where(Score.entry_id == entry_id)
        scores = list(db.session.scalars(query))
        db.session.expunge_all()
        return scores


def _entry_of(response) -> int:
    """The entry id a /judge/next redirect points to."""
    assert response.status_code == 303
    match = re.fullmatch(r"/judge/entries/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _preview_key(app, entry_id: int, role: str = "preview") -> str:
    with app.app_context():
        return db.session.scalar(
            select(Asset.key).where(Asset.entry_id == entry_id, Asset.role == role)
        )


def _score(client, entry_id: int, json: bool = False, **fields):
    headers = {"Accept": "application/json"} if json else {}
    return client.post(f"/judge/entries/{entry_id}/score", data=fields, headers=headers)


# --- dispatch ---------------------------------------------------------------------------------


def test_next_sends_the_judge_to_the_least_scored_entry_first(
    app, client, judge, make_user, make_entry
):
    others = [make_user(f"other-{i}") for i in range(3)]
    entries = [make_entry() for _ in range(5)]
    given = {entries[0]: 3, entries[1]: 2, entries[2]: 1, entries[3]: 0, entries[4]: 0}
    for entry_id, count in given.items():
        for judge_id in others[:count]:
            _add_score(app, entry_id, judge_id)

    counts = dict(given)
    while counts:
        for _ in range(5):
            chosen = _entry_of(client.get("/judge/next"))
            assert counts[chosen] == min(counts.values()), (chosen, counts)
        assert _score(client, chosen, **GOOD).headers["Location"] == "/judge/next"
        del counts[chosen]

    done = client.get("/judge/next")
    assert done.status_code == 303 and done.headers["Location"] == "/judge"
    assert "모든 작품을 심사했습니다" in client.get("/judge").get_data(as_text=True)


def test_next_picks_at_random_among_equally_scored_entries(client, judge, make_entry):
    first, second = make_entry(), make_entry()
    seen = Counter(_entry_of(client.get("/judge/next")) for _ in range(40))
    assert set(seen) == {first, second}


def test_next_with_nothing_to_judge_goes_home(client, judge):
    response = client.get("/judge/next")
    assert response.status_code == 303 and response.headers["Location"] == "/judge"


def test_scores_of_a_recused_judge_do_not_count_towards_the_quorum(
    app, client, judge, make_user, make_entry
):
    conflicted, other = make_user("conflicted"), make_user("other")
    looks_scored, really_scored = make_entry(), make_entry()
    _add_score(app, looks_scored, conflicted)
    _add_score(app, really_scored, other)
    with app.app_context():
        db.session.add(Recusal(entry_id=looks_scored, judge_id=conflicted))
        db.session.commit()
    assert {_entry_of(client.get("/judge/next")) for _ in range(10)} == {looks_scored}


def test_choosing_the_next_entry_is_one_query(app, judge, make_entry):
    from contest.services import judging

    for _ in range(3):
        make_entry()
    with app.app_context():
        round_ = db.session.get(Round, _round_id(app))
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert judging.next_entry_id(round_, judge) is not None
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == 1, statements


def test_the_entry_page_preloads_the_entry_that_comes_next(app, client, judge, make_entry):
    entries = {make_entry() for _ in range(3)}
    current = _entry_of(client.get("/judge/next"))
    page = client.get(f"/judge/entries/{current}").get_data(as_text=True)
    href = re.search(r'<link rel="preload" as="image" href="/media/([^"]+)">', page).group(1)
    preloaded = next(e for e in entries - {current} if _preview_key(app, e) == href)

    # The preloaded entry is the one the judge gets next, so the preview is already there.
    _score(client, current, **GOOD)
    assert _entry_of(client.get("/judge/next")) == preloaded


# --- skipping for now -------------------------------------------------------------------------


def _skip(client, entry_id: int, json: bool = False):
    headers = {"Accept": "application/json"} if json else {}
    return client.post(f"/judge/entries/{entry_id}/skip", headers=headers)


def test_a_skipped_entry_waits_until_the_judges_other_entries_are_done(client, judge, make_entry):
    entries = [make_entry() for _ in range(3)]
    skipped = _entry_of(client.get("/judge/next"))
    response = _skip(client, skipped)
    assert response.status_code == 303 and response.headers["Location"] == "/judge/next"

    others = set(entries) - {skipped}
    while others:
        served = {_entry_of(client.get("/judge/next")) for _ in range(10)}
        assert skipped not in served and served <= others, (served, others)
        chosen = served.pop()
        _score(client, chosen, **GOOD)
        others.discard(chosen)

    # Everything else scored: the skipped entry comes back, and stays until it is scored.
    assert {_entry_of(client.get("/judge/next")) for _ in range(5)} == {skipped}
    page = client.get(f"/judge/entries/{skipped}").get_data(as_text=True)
    assert 'id="skipped-note"' in page
    _score(client, skipped, **GOOD)
    assert client.get("/judge/next").headers["Location"] == "/judge"


def test_skipped_entries_come_back_in_the_order_they_were_skipped(client, judge, make_entry):
    first, second, third = (make_entry() for _ in range(3))
    for entry_id in (second, first, third):
        _skip(client, entry_id)
    assert _entry_of(client.get("/judge/next")) == second
    _skip(client, second)  # skipped again: behind the others now
    assert _entry_of(client.get("/judge/next")) == first
    assert _skip(client, first, json=True).get_json() == {"skipped": True, "next": "/judge/next"}
    assert _entry_of(client.get("/judge/next")) == third


def test_an_entry_added_after_a_skip_comes_before_the_skipped_one(client, judge, make_entry):
    skipped = make_entry()
    _skip(client, skipped)
    assert _entry_of(client.get("/judge/next")) == skipped  # nothing else yet: never lost
    newcomer = make_entry()
    assert {_entry_of(client.get("/judge/next")) for _ in range(5)} == {newcomer}
    # The entry page preloads what comes next: never the skipped one while another waits.
    page = client.get(f"/judge/entries/{newcomer}").get_data(as_text=True)
    assert 'id="skip-form"' in page and 'id="skipped-note"' not in page


def test_skips_belong_to_one_judge_and_one_round(app, client, judge, make_user, make_entry):
    skipped, other = make_entry(), make_entry()
    _skip(client, skipped)
    make_user("second-judge")
    second = app.test_client()
    second.post("/login", data={"username": "second-judge", "password": PASSWORD})
    assert skipped in {_entry_of(second.get("/judge/next")) for _ in range(20)}

    # A new round starts with nothing skipped.
    with app.app_context():
        first = db.session.scalar(select(Round).where(Round.status == "open"))
        first.status, first.closed_at = "closed", utcnow()
        db.session.add(Round(contest_id=first.contest_id, number=2, name="2차", method="screening"))
        db.session.commit()
    assert skipped in {_entry_of(client.get("/judge/next")) for _ in range(20)}
    assert other in {_entry_of(client.get("/judge/next")) for _ in range(20)}


def test_skipping_an_entry_outside_the_round_is_refused(client, judge, make_entry):
    rejected = make_entry(status="rejected")
    assert _skip(client, rejected).status_code == 404
    assert _skip(client, 999999).status_code == 404


# --- blind judging ----------------------------------------------------------------------------

SECRETS = {
    "entrant_name": "비밀응모자홍",
    "email": "secret.person@hidden.example",
    "phone": "+821099998877",
    "original_filename": "VERY-PRIVATE-IMG_0042.jpg",
    "camera_make": "SecretCamMaker",
    "camera_model": "XQ-Private-77",
    "under14": True,
    "guardian_name": "비밀보호자김",
    "guardian_phone": "+821055554433",
}


def _leaks(app, entry_id: int) -> list[str]:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        receipt, grouped = entry.receipt, entry.receipt_display
    return [
        *(v for v in SECRETS.values() if isinstance(v, str)),
        "010-9999-8877",
        "99998877",
        "010-5555-4433",
        "VERY-PRIVATE",
        receipt,
        grouped,
    ]


@pytest.mark.parametrize("kind", ["photo", "video"])
def test_no_judge_page_reveals_the_entrant(app, client, judge, make_entry, kind):
    entry_id = make_entry(title="공정한 제목", kind=kind, guardian_consented_at=utcnow(), **SECRETS)
    secrets = _leaks(app, entry_id)
    bodies = [
        client.get("/judge").get_data(as_text=True),
        client.get("/judge/next").get_data(as_text=True),
        client.get(f"/judge/entries/{entry_id}").get_data(as_text=True),
        _score(client, entry_id, relevance="11").get_data(as_text=True),
        _score(client, entry_id, json=True, relevance="x").get_data(as_text=True),
        _score(client, entry_id, json=True, **GOOD).get_data(as_text=True),
        client.get("/judge").get_data(as_text=True),  # now in the list of scored entries
        client.get(f"/judge/entries/{entry_id}").get_data(as_text=True),  # pre-filled
        client.post(f"/judge/entries/{entry_id}/recuse").get_data(as_text=True),
        client.get(f"/judge/entries/{entry_id}").get_data(as_text=True),  # recused page
    ]
    assert "공정한 제목" in bodies[2]
    for body in bodies:
        for secret in secrets:
            assert secret not in body


# --- the entry page ---------------------------------------------------------------------------


def test_a_photo_page_shows_the_preview_zoomable_with_the_form_and_no_inline_script(
    app, client, judge, make_entry
):
    entry_id = make_entry(title="아침 풍경", description="광장에서")
    page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    assert f'src="/media/{_preview_key(app, entry_id)}"' in page
    assert 'id="zoom-toggle"' in page and 'aria-pressed="false"' in page
    assert "아침 풍경" in page and "광장에서" in page and "사진" in page
    for slug in ("relevance", "creativity", "quality"):
        assert len(re.findall(rf'type="radio" name="{slug}" value="(\d+)"', page)) == 10
    assert 'name="comment"' in page and 'name="csrf_token"' in page
    assert "/static/js/judge.js" in page and "/static/css/judge.css" in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # scripts are files only (CSP)
    assert _preview_key(app, entry_id, "original") not in page  # never the original


def test_a_video_page_shows_the_player_with_poster_and_playback_copy(
    app, client, judge, make_entry
):
    entry_id = make_entry(kind="video")
    waiting = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    assert "<video" not in waiting and "처리 중" in waiting
    assert f'src="/media/{_preview_key(app, entry_id)}"' in waiting

    with app.app_context():
        db.session.add(
            Asset(
                entry_id=entry_id,
                role="playback",
                key="derived/pb/playback-test.mp4",
                content_type="video/mp4",
                size=1,
            )
        )
        db.session.commit()
    page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    video = re.search(r"<video[^>]*>", page).group(0)
    assert "controls" in video and 'preload="metadata"' in video
    assert f'poster="/media/{_preview_key(app, entry_id)}"' in video
    assert '<source src="/media/derived/pb/playback-test.mp4" type="video/mp4">' in page
    assert "영상" in page


def test_the_page_prefills_the_judges_current_score(client, judge, make_entry):
    entry_id = make_entry()
    _score(client, entry_id, comment="빛이 좋다", **GOOD)
    page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    assert re.search(r'name="relevance" value="8" checked', page)
    assert re.search(r'name="quality" value="9" checked', page)
    assert "빛이 좋다" in page and 'id="current-score"' in page


def test_arrows_walk_through_the_scored_entries_in_the_order_first_scored(
    client, judge, make_entry
):
    a, b, c, new = (make_entry() for _ in range(4))
    for entry_id in (a, b, c):
        _score(client, entry_id, **GOOD)
    _score(client, a, **(GOOD | {"quality": "3"}))  # a revision keeps its place

    def nav(entry_id: int) -> tuple[str | None, str | None]:
        page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
        prev = re.search(r'data-prev-url="([^"]+)"', page)
        nxt = re.search(r'data-next-url="([^"]+)"', page)
        return (prev and prev.group(1)), (nxt and nxt.group(1))

    assert nav(a) == (None, f"/judge/entries/{b}")
    assert nav(b) == (f"/judge/entries/{a}", f"/judge/entries/{c}")
    assert nav(c) == (f"/judge/entries/{b}", "/judge/next")  # past the last: the next new one
    assert nav(new) == (f"/judge/entries/{c}", None)
    page = client.get(f"/judge/entries/{b}").get_data(as_text=True)
    assert f'id="prev-link" class="button button-secondary" href="/judge/entries/{a}"' in page
    assert f'id="next-link" class="button button-secondary" href="/judge/entries/{c}"' in page


# --- scoring ----------------------------------------------------------------------------------


def test_a_score_is_saved_with_its_weighted_total_and_audited(app, client, judge, make_entry):
    entry_id = make_entry()
    response = _score(client, entry_id, comment="좋습니다", **GOOD)
    assert response.status_code == 303 and response.headers["Location"] == "/judge/next"
    [score] = _scores(app)
    assert score.values == {"relevance": 8, "creativity": 7, "quality": 9}
    assert score.total == pytest.approx(0.4 * 8 + 0.3 * 7 + 0.3 * 9)
    assert (score.judge_id, score.entry_id, score.comment) == (judge, entry_id, "좋습니다")
    with app.app_context():
        [log] = db.session.scalars(select(AuditLog).where(AuditLog.action == "score")).all()
        assert log.user_id == judge and log.old is None and log.new["values"] == score.values


def test_posting_again_revises_the_same_row_and_audits_old_and_new(app, client, judge, make_entry):
    entry_id = make_entry()
    _score(client, entry_id, **GOOD)
    [before] = _scores(app)
    response = _score(client, entry_id, comment="다시 보니", **(GOOD | {"relevance": "3"}))
    assert response.status_code == 303

    [after] = _scores(app)
    assert after.id == before.id
    assert after.values["relevance"] == 3 and after.comment == "다시 보니"
    assert after.total < before.total
    assert after.updated_at > before.updated_at and after.created_at == before.created_at
    with app.app_context():
        [log] = db.session.scalars(select(AuditLog).where(AuditLog.action == "revise-score"))
        assert log.user_id == judge and log.target == f"score:{after.id}"
        assert log.old["values"]["relevance"] == 8 and log.new["values"]["relevance"] == 3
        assert log.old["comment"] == "" and log.new["comment"] == "다시 보니"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (GOOD | {"relevance": "0"}, "relevance", "1부터 10까지의 정수"),
        (GOOD | {"relevance": "11"}, "relevance", "1부터 10까지의 정수"),
        (GOOD | {"creativity": "abc"}, "creativity", "1부터 10까지의 정수"),
        (GOOD | {"quality": "7.5"}, "quality", "1부터 10까지의 정수"),
        ({"relevance": "8", "creativity": "7"}, "quality", "완성도 점수를 선택해 주세요"),
        (GOOD | {"relevance": ""}, "relevance", "주제 적합성 점수를 선택해 주세요"),
        (GOOD | {"comment": "가" * 2001}, "comment", "2000자 이하"),
    ],
)
def test_bad_values_are_refused_by_the_field_and_change_nothing(
    app, client, judge, make_entry, fields, field, message
):
    entry_id = make_entry()
    _score(client, entry_id, comment="처음", **GOOD)
    [before] = _scores(app)

    response = _score(client, entry_id, **fields)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page).group(1)
    assert message in error
    assert 'id="score-form"' in page  # the entry page again, not an error page

    [after] = _scores(app)
    assert (after.values, after.comment, after.updated_at) == (
        before.values,
        before.comment,
        before.updated_at,
    )
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(AuditLog.id)).where(AuditLog.action == "revise-score")
            )
            == 0
        )


def test_a_first_score_with_bad_values_creates_no_row(app, client, judge, make_entry):
    entry_id = make_entry()
    assert _score(client, entry_id, relevance="11").status_code == 400
    assert _scores(app) == []


def test_json_callers_get_json_answers(app, client, judge, make_entry):
    entry_id = make_entry()
    saved = _score(client, entry_id, json=True, **GOOD)
    assert saved.status_code == 200
    assert saved.get_json() == {"saved": True, "next": "/judge/next"}

    refused = _score(client, entry_id, json=True, **(GOOD | {"quality": "0"}))
    assert refused.status_code == 400
    assert set(refused.get_json()["errors"]) == {"quality"}

    body = client.post(
        f"/judge/entries/{entry_id}/score",
        json={"relevance": 7.5, "creativity": 5, "quality": True},
        headers={"Accept": "application/json"},
    )
    assert body.status_code == 400
    assert set(body.get_json()["errors"]) == {"relevance", "quality"}
    as_json = client.post(
        f"/judge/entries/{entry_id}/score",
        json={"relevance": 2, "creativity": 2, "quality": 2},
        headers={"Accept": "application/json"},
    )
    assert as_json.status_code == 200
    assert _scores(app)[0].values == {"relevance": 2, "creativity": 2, "quality": 2}


def test_a_screening_round_asks_yes_or_no(app, client, judge, make_entry):
    _set_round(app, method="screening")
    entry_id = make_entry()
    page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    assert 'name="verdict" value="y"' in page and 'name="verdict" value="n"' in page
    assert 'name="relevance"' not in page

    assert _score(client, entry_id, verdict="y").status_code == 303
    [score] = _scores(app)
    assert score.values == {"verdict": True} and score.total == 1.0
    assert _score(client, entry_id, verdict="n").status_code == 303
    [score] = _scores(app)
    assert score.values == {"verdict": False} and score.total == 0.0

    refused = _score(client, entry_id, verdict="maybe")
    assert refused.status_code == 400
    assert "통과(Y) 또는 탈락(N)" in refused.get_data(as_text=True)
    assert _score(client, entry_id).status_code == 400
    assert _scores(app)[0].values == {"verdict": False}


def test_a_closed_round_refuses_scores(app, client, judge, make_entry):
    entry_id = make_entry()
    _score(client, entry_id, **GOOD)
    round_id = _round_id(app)
    _set_round(app, status="closed", closed_at=utcnow())

    refused = _score(client, entry_id, round_id=str(round_id), **(GOOD | {"relevance": "1"}))
    assert refused.status_code == 409
    assert "마감" in refused.get_data(as_text=True)
    as_json = _score(client, entry_id, json=True, **GOOD)
    assert as_json.status_code == 409 and "_form" in as_json.get_json()["errors"]
    assert _scores(app)[0].values["relevance"] == 8
    assert client.get(f"/judge/entries/{entry_id}").status_code == 404
    assert "진행 중인 심사 라운드가 없습니다" in client.get("/judge").get_data(as_text=True)
    assert client.get("/judge/next").headers["Location"] == "/judge"


def test_the_service_itself_refuses_a_closed_round(app, judge, make_entry):
    from contest.services import judging

    entry_id = make_entry()
    _set_round(app, status="closed", closed_at=utcnow())
    with app.app_context():
        round_ = db.session.scalar(select(Round))
        entry, user = db.session.get(Entry, entry_id), db.session.get(User, judge)
        with pytest.raises(judging.ScoreRefused) as refused:
            judging.save_score(round_, entry, user, CLEAN)
        assert refused.value.status == 409
    assert _scores(app) == []


def test_a_form_from_a_round_since_closed_is_not_scored_in_the_next_one(
    app, client, judge, make_entry
):
    entry_id = make_entry()
    old_round = _round_id(app)
    _set_round(app, status="closed", closed_at=utcnow())
    with app.app_context():
        first = db.session.get(Round, old_round)
        db.session.add(Round(contest_id=first.contest_id, number=2, name="2차", method="screening"))
        db.session.commit()
    refused = _score(client, entry_id, round_id=str(old_round), verdict="y")
    assert refused.status_code == 409 and _scores(app) == []


# --- rejected entries and recusal -------------------------------------------------------------


def test_rejected_entries_leave_the_queue_and_their_page_is_gone(app, client, judge, make_entry):
    rejected = make_entry(status="rejected")
    kept = make_entry()
    assert {_entry_of(client.get("/judge/next")) for _ in range(10)} == {kept}
    assert client.get(f"/judge/entries/{rejected}").status_code == 404
    assert _score(client, rejected, **GOOD).status_code == 404
    assert client.post(f"/judge/entries/{rejected}/recuse").status_code == 404
    assert client.get("/judge/entries/999999").status_code == 404

    _score(client, kept, **GOOD)
    with app.app_context():
        db.session.get(Entry, kept).status = "rejected"
        db.session.commit()
    assert client.get(f"/judge/entries/{kept}").status_code == 404
    dashboard = client.get("/judge").get_data(as_text=True)
    assert f"/judge/entries/{kept}" not in dashboard


def test_recusal_takes_an_unscored_entry_out_of_the_queue(client, judge, make_entry):
    conflicted, other = make_entry(), make_entry()
    assert client.post(f"/judge/entries/{conflicted}/recuse").status_code == 303
    assert {_entry_of(client.get("/judge/next")) for _ in range(10)} == {other}


def test_recusal_takes_the_entry_out_of_the_judges_queue(app, client, judge, make_entry):
    conflicted, other = make_entry(), make_entry()
    _score(client, conflicted, **GOOD)
    response = client.post(f"/judge/entries/{conflicted}/recuse")
    assert response.status_code == 303 and response.headers["Location"] == "/judge/next"
    again = client.post(
        f"/judge/entries/{conflicted}/recuse", headers={"Accept": "application/json"}
    )
    assert again.status_code == 200 and again.get_json()["recused"] is True

    with app.app_context():
        assert db.session.scalars(select(Recusal)).all() != []
        assert db.session.scalar(select(func.count()).select_from(Recusal)) == 1
        logs = db.session.scalars(select(AuditLog).where(AuditLog.action == "recuse")).all()
        assert [(log.user_id, log.target) for log in logs] == [(judge, f"entry:{conflicted}")]
    # The score stays on record; it just no longer counts or shows.
    assert len(_scores(app, conflicted)) == 1

    assert {_entry_of(client.get("/judge/next")) for _ in range(10)} == {other}
    page = client.get(f"/judge/entries/{conflicted}")
    assert page.status_code == 403 and "회피" in page.get_data(as_text=True)
    refused = _score(client, conflicted, **(GOOD | {"quality": "1"}))
    assert refused.status_code == 409
    assert _scores(app, conflicted)[0].values["quality"] == 9
    dashboard = client.get("/judge").get_data(as_text=True)
    assert f"/judge/entries/{conflicted}" not in dashboard

    _score(client, other, **GOOD)
    assert client.get("/judge/next").headers["Location"] == "/judge"


# --- dashboard --------------------------------------------------------------------------------


def test_the_dashboard_shows_progress_per_category_and_the_scored_entries(
    client, judge, make_entry
):
    photos = [make_entry(title=f"사진 작품 {i}") for i in range(2)]
    make_entry(kind="video")
    start = client.get("/judge").get_data(as_text=True)
    assert "심사 시작" in start and 'href="/judge/next"' in start
    assert re.search(r'id="progress-photo"><th scope="row">사진</th><td>0</td><td>2</td>', start)
    assert re.search(r'id="progress-video"><th scope="row">영상</th><td>0</td><td>1</td>', start)

    _score(client, photos[0], **GOOD)
    page = client.get("/judge").get_data(as_text=True)
    assert "심사 계속" in page
    assert re.search(r'id="progress-photo"><th scope="row">사진</th><td>1</td><td>1</td>', page)
    assert re.search(r'id="to-do">2<', page)
    assert f'<a href="/judge/entries/{photos[0]}">사진 작품 0</a>' in page
    assert f"/judge/entries/{photos[1]}" not in page


# --- CSRF -------------------------------------------------------------------------------------


def test_score_and_recuse_forms_need_the_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        from contest.services import accounts

        accounts.create_user("judge-csrf", "judge", PASSWORD)
        db.session.commit()
        judge_id = db.session.scalar(select(User.id).where(User.username == "judge-csrf"))
    client = app.test_client()

    def token(page: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    login_page = client.get("/login").get_data(as_text=True)
    csrf = csrf_token(login_page)
    client.post("/login", data={"username": "judge-csrf", "password": PASSWORD, "csrf_token": csrf})

    entry_id = _entry_in(app)  # make_entry is bound to the default app

    assert _score(client, entry_id, **GOOD).status_code == 400
    assert client.post(f"/judge/entries/{entry_id}/recuse").status_code == 400
    page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    response = _score(client, entry_id, csrf_token=token(page), **GOOD)
    assert response.status_code == 303
    with app.app_context():
        [score] = db.session.scalars(select(Score)).all()
        assert score.judge_id == judge_id

    # JSON posts carry the token in the X-CSRFToken header: CSRFProtect checks them too.
    as_json = {"json": CLEAN, "headers": {"Accept": "application/json"}}
    assert client.post(f"/judge/entries/{entry_id}/score", **as_json).status_code == 400
    as_json["headers"]["X-CSRFToken"] = token(page)
    assert client.post(f"/judge/entries/{entry_id}/score", **as_json).status_code == 200


def _entry_in(app) -> int:
    """A minimal photo entry in `app` (its preview file need not exist for the form)."""
    from contest.models import Category

    with app.app_context():
        category = db.session.scalar(select(Category).where(Category.kind == "photo"))
        entry = Entry(
            contest_id=category.contest_id,
            category_id=category.id,
            receipt="CSRFTEST00001",
            title="토큰 확인",
            entrant_name="x",
            email="x@example.com",
            phone="+821000000000",
            consent_version="test",
            consented_at=utcnow(),
            media_format="JPEG",
            width=10,
            height=10,
            file_size=1,
            sha256="f" * 64,
        )
        db.session.add(entry)
        db.session.commit()
        return entry.id


def test_the_scored_list_is_paged(client, judge, make_entry, monkeypatch):
    from contest.judge import views

    monkeypatch.setattr(views, "SCORED_PER_PAGE", 2)
    entries = [make_entry() for _ in range(3)]
    for entry_id in entries:
        _score(client, entry_id, **GOOD)
    first = client.get("/judge").get_data(as_text=True)
    assert 'href="/judge?page=2"' in first
    assert f"/judge/entries/{entries[0]}" not in first  # the latest come first
    second = client.get("/judge?page=2").get_data(as_text=True)
    assert f"/judge/entries/{entries[0]}" in second and f"/judge/entries/{entries[2]}" not in second


# --- the score form ---------------------------------------------------------------------------


def _post_json(client, entry_id: int, body: object):
    return client.post(
        f"/judge/entries/{entry_id}/score", json=body, headers={"Accept": "application/json"}
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "완성도 점수를 선택해 주세요"),  # a bool is not a score, never 1
        (False, "완성도 점수를 선택해 주세요"),
        (None, "완성도 점수를 선택해 주세요"),
        (7.5, "1부터 10까지의 정수"),
        (7.0, "1부터 10까지의 정수"),  # not rounded, not truncated
        ("7.5", "1부터 10까지의 정수"),
        ("abc", "1부터 10까지의 정수"),
        ("1_0", "1부터 10까지의 정수"),
        ("７", "1부터 10까지의 정수"),
        (-1, "1부터 10까지의 정수"),
        (1000, "1부터 10까지의 정수"),
        ([9], "1부터 10까지의 정수"),
        ({"value": 9}, "1부터 10까지의 정수"),
    ],
)
def test_json_scores_that_are_not_whole_numbers_are_refused(
    app, client, judge, make_entry, value, message
):
    entry_id = make_entry()
    response = _post_json(client, entry_id, CLEAN | {"quality": value})
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert set(errors) == {"quality"} and len(errors["quality"]) == 1
    assert message in errors["quality"][0]
    assert _scores(app) == []


def test_json_numbers_or_their_text_are_saved_and_the_comment_stripped(
    app, client, judge, make_entry
):
    entry_id = make_entry()
    body = {"relevance": " 8 ", "creativity": 7, "quality": "9", "comment": "  좋습니다\n"}
    assert _post_json(client, entry_id, body).status_code == 200
    [score] = _scores(app)
    assert score.values == CLEAN and score.comment == "좋습니다"
    assert _post_json(client, entry_id, CLEAN | {"comment": None}).status_code == 200
    assert _scores(app)[0].comment == ""


def test_a_comment_that_is_not_text_is_refused(app, client, judge, make_entry):
    entry_id = make_entry()
    response = _post_json(client, entry_id, CLEAN | {"comment": ["좋음"]})
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"comment": ["심사평은 글로 입력해 주세요."]}


def test_a_screening_verdict_must_be_y_or_n_even_in_json(app, client, judge, make_entry):
    _set_round(app, method="screening")
    entry_id = make_entry()
    for wrong in (True, 1, "yes", ["y"], None):
        refused = _post_json(client, entry_id, {"verdict": wrong})
        assert refused.status_code == 400
        assert set(refused.get_json()["errors"]) == {"verdict"}
    assert _post_json(client, entry_id, {"verdict": " Y "}).status_code == 200
    assert _scores(app)[0].values == {"verdict": True}


def test_a_recused_judge_hears_of_the_recusal_whatever_they_typed(app, client, judge, make_entry):
    entry_id = make_entry()
    client.post(f"/judge/entries/{entry_id}/recuse")
    page = _score(client, entry_id, relevance="abc")
    assert page.status_code == 409 and "회피" in page.get_data(as_text=True)
    as_json = _post_json(client, entry_id, {"relevance": "abc"})
    assert as_json.status_code == 409 and set(as_json.get_json()["errors"]) == {"_form"}
    assert _scores(app) == []


def test_criteria_named_like_form_attributes_still_work(app, client, judge, make_entry):
    with app.app_context():
        round_ = db.session.scalar(select(Round))
        for criterion, slug in zip(round_.criteria, ("data", "validate", "errors"), strict=True):
            criterion.slug = slug
        db.session.commit()
    entry_id = make_entry()
    page = client.get(f"/judge/entries/{entry_id}").get_data(as_text=True)
    assert 'name="data"' in page and 'name="validate"' in page

    refused = _score(client, entry_id, data="8", validate="7")
    assert refused.status_code == 400
    assert re.search(r'id="errors-error">[^<]*점수를 선택해 주세요', refused.get_data(as_text=True))
    assert _score(client, entry_id, data="8", validate="7", errors="9").status_code == 303
    assert _scores(app)[0].values == {"data": 8, "validate": 7, "errors": 9}


def test_the_score_form_has_a_field_per_criterion_in_position_order(app):
    from contest.judge.forms import score_form

    with app.test_request_context():
        round_ = db.session.scalar(select(Round))
        round_.criteria[2].position = -1  # quality first
        db.session.commit()
        db.session.expire_all()
        round_ = db.session.scalar(select(Round))
        form = score_form(round_)(MultiDict({"quality": "9", "relevance": "8", "creativity": "7"}))
        assert [field.name for field in form] == ["quality", "relevance", "creativity", "comment"]
        assert form.validate() and form.values() == CLEAN and form.comment.data == ""
        round_.method = "screening"
        form = score_form(round_)(MultiDict({"verdict": "n"}))
        assert [field.name for field in form] == ["verdict", "comment"]
        assert form.validate() and form.values() == {"verdict": False}
        db.session.rollback()


def test_a_json_body_becomes_the_form_data_a_post_would_give():
    from contest.judge.forms import formdata_from_json

    data = formdata_from_json({"a": 7, "b": 7.5, "c": True, "d": None, "e": [8, 9], "f": "x"})
    assert data.getlist("a") == ["7"] and data.getlist("b") == ["7.5"]
    assert data.getlist("c") == [True]  # kept a bool, for the fields to refuse; never "1"
    assert "d" not in data
    assert data.getlist("e") == [[8, 9]]  # one value, not spread into two
    assert data.getlist("f") == ["x"]
    assert len(formdata_from_json([1, 2])) == 0 and len(formdata_from_json("x")) == 0


def test_the_service_takes_clean_values_only(app, judge, make_entry):
    from contest.services import judging

    entry_id = make_entry()
    with app.app_context():
        round_ = db.session.scalar(select(Round))
        entry, user = db.session.get(Entry, entry_id), db.session.get(User, judge)
        for raw in (GOOD, CLEAN | {"quality": 11}, CLEAN | {"quality": True}, {"relevance": 8}):
            with pytest.raises(TypeError):  # a caller that skipped the form, never a judge
                judging.save_score(round_, entry, user, raw)
        judging.save_score(round_, entry, user, CLEAN, "좋음")
        db.session.commit()
        round_.method = "screening"
        with pytest.raises(TypeError):
            judging.save_score(round_, entry, user, {"verdict": "n"})  # would count as a pass
        db.session.rollback()
    [score] = _scores(app)
    assert score.values == CLEAN and score.comment == "좋음"
