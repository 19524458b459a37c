"""Calibration and jury changes mid-round: calibration entries first and the judges' offsets,
the quorum and what changing it costs, judges added, disabled or limited to categories, a
judge's private notes and flags to the organisers, and who is behind schedule."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import (
    CalibrationEntry,
    Category,
    Entry,
    Flag,
    JudgeNote,
    Round,
    Score,
    User,
    utcnow,
)
from contest.services import calibration, jury, ranking, schedule

from .conftest import PASSWORD

GOOD = {"relevance": "8", "creativity": "7", "quality": "9"}


def _round(app) -> Round:
    round_ = db.session.scalar(select(Round).where(Round.status == "open"))
    assert round_ is not None
    return round_


def _add_score(app, entry_id: int, judge_id: int, total: float, minutes_ago: float = 0) -> None:
    """A score inserted directly (another judge's), given `minutes_ago`."""
    with app.app_context():
        when = utcnow() - timedelta(minutes=minutes_ago)
        db.session.add(
            Score(
                round_id=_round(app).id,
                entry_id=entry_id,
                judge_id=judge_id,
                values={"relevance": 5, "creativity": 5, "quality": 5},
                total=total,
                created_at=when,
                updated_at=when,
            )
        )
        db.session.commit()


def _calibrate(app, entry_ids: list[int]) -> None:
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.role == "admin")) or User(
            username="calibrator", role="admin", password_hash="x"
        )
        calibration.set_entries(_round(app), entry_ids, admin)
        db.session.commit()


def _next(client) -> int | None:
    response = client.get("/judge/next")
    assert response.status_code == 303
    match = re.fullmatch(r"/judge/entries/(\d+)", response.headers["Location"])
    return int(match.group(1)) if match else None


def _as(app, username: str):
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303
    return client


# --- calibration ------------------------------------------------------------------------------


def test_calibration_offsets_and_spreads_on_a_known_set(app, make_user, make_entry):
    a, b, c = make_user("judge-a"), make_user("judge-b"), make_user("judge-c")
    e1, e2, e3 = make_entry(), make_entry(), make_entry()
    other = make_entry()
    _calibrate(app, [e1, e2, e3])
    # e1: a 8, b 6, c 4.  e2: a 7, b 7, c 4.  e3: a 9 and b 5 (c recused, so c's 1 is out).
    for entry_id, totals in ((e1, (8, 6, 4)), (e2, (7, 7, 4)), (e3, (9, 5, 1))):
        for judge_id, total in zip((a, b, c), totals, strict=True):
            _add_score(app, entry_id, judge_id, total)
    _add_score(app, other, a, 1.0)  # not a calibration entry: never in the offsets
    with app.app_context():
        from contest.models import Recusal

        db.session.add(Recusal(entry_id=e3, judge_id=c))
        db.session.commit()
        offsets = calibration.offsets(_round(app))
        spreads = {s.entry_id: s for s in calibration.spreads(_round(app))}
    # a: e1 8−5=3, e2 7−5.5=1.5, e3 9−5=4 → 8.5/3.  b: 6−6=0, 7−5.5=1.5, 5−9=−4 → −2.5/3.
    # c: 4−7=−3, 4−7=−3 (e3 recused) → −3 over 2 entries.
    assert offsets[a] == (pytest.approx(8.5 / 3), 3)
    assert offsets[b] == (pytest.approx(-2.5 / 3), 3)
    assert offsets[c] == (pytest.approx(-3.0), 2)
    assert spreads[e1].scores == 3 and spreads[e1].spread == 4 and spreads[e1].mean == 6
    assert spreads[e1].stdev == pytest.approx((8 / 3) ** 0.5)
    assert spreads[e3].scores == 2 and (spreads[e3].low, spreads[e3].high) == (5, 9)


def test_every_judge_gets_the_calibration_entries_first_in_order(app, client, judge, make_entry):
    plain = [make_entry() for _ in range(4)]
    chosen = [make_entry(), make_entry(), make_entry()]
    _calibrate(app, [chosen[2], chosen[0], chosen[1]])
    served = []
    for _ in range(3):
        entry_id = _next(client)
        served.append(entry_id)
        assert client.post(f"/judge/entries/{entry_id}/score", data=GOOD).status_code == 303
    assert served == [chosen[2], chosen[0], chosen[1]]
    assert _next(client) in plain
    assert 'id="calibration-note"' not in client.get(f"/judge/entries/{plain[0]}").text
    assert 'id="calibration-note"' in client.get(f"/judge/entries/{chosen[0]}").text


def test_a_judge_sees_their_own_offset(app, client, judge, make_user, make_entry):
    other = make_user("judge-other")
    ids = [make_entry() for _ in range(3)]
    _calibrate(app, ids)
    for entry_id, total in zip(ids, (5.0, 6.0, 7.0), strict=True):
        _add_score(app, entry_id, other, total)
        _add_score(app, entry_id, judge, total + 1.2)
    page = client.get("/judge").text
    assert "패널보다 평균 1.2점 높게" in page
    english = client.get("/judge", headers={"Accept-Language": "en"}).text
    assert "You score 1.2 points above the panel on average" in english


def test_the_admin_chooses_three_to_five_calibration_entries(app, client, admin, make_entry):
    ids = [make_entry() for _ in range(6)]
    with app.app_context():
        round_id = _round(app).id
    url = f"/admin/rounds/{round_id}/calibration"
    too_few = client.post(url, data={"entry_ids": f"{ids[0]}, {ids[1]}"})
    assert too_few.status_code == 400 and "3–5개" in too_few.text
    nonsense = client.post(url, data={"entry_ids": "12; drop table"})
    assert nonsense.status_code == 400 and "쉼표로" in nonsense.text
    missing = client.post(url, data={"entry_ids": f"{ids[0]}, {ids[1]}, 999999"})
    assert missing.status_code == 400 and "#999999" in missing.text
    with app.app_context():
        assert db.session.scalars(select(CalibrationEntry)).all() == []
    saved = client.post(url, data={"entry_ids": f"#{ids[3]}, {ids[1]} {ids[2]}"})
    assert saved.status_code == 303
    with app.app_context():
        assert calibration.entry_ids(_round(app)) == [ids[3], ids[1], ids[2]]
    page = client.get(url).text
    assert f'id="spread-{ids[3]}"' in page


# --- quorum -----------------------------------------------------------------------------------


def test_the_quorum_change_arithmetic(app, make_user, make_entry):
    judges = [make_user(f"judge-{n}") for n in range(4)]
    e1, e2, e3, e4 = (make_entry() for _ in range(4))
    # Counted scores: e1 4, e2 2, e3 1 (+ one from a recused judge), e4 none.
    for j in judges:
        _add_score(app, e1, j, 5.0, minutes_ago=30)
    for j in judges[:2]:
        _add_score(app, e2, j, 5.0, minutes_ago=30)
    _add_score(app, e3, judges[0], 5.0, minutes_ago=30)
    _add_score(app, e3, judges[1], 5.0, minutes_ago=400)  # before the pace window
    with app.app_context():
        from contest.models import Recusal

        db.session.add(Recusal(entry_id=e3, judge_id=judges[1]))
        db.session.commit()
        round_ = _round(app)
        round_.opened_at = utcnow() - timedelta(hours=10)
        db.session.commit()
        assert jury.scores_needed(round_, 3) == 0 + 1 + 2 + 3
        assert jury.scores_needed(round_, 4) == 0 + 2 + 3 + 4
        assert jury.scores_needed(round_, 1) == 0 + 0 + 0 + 1
        # Pace: 7 scores in the last 3 hours (the 8th is older) → 7/3 an hour.
        effect = jury.quorum_effect(round_, 4, utcnow())
        assert effect.needed == 9
        assert effect.pace == pytest.approx(7 / 3, rel=1e-3)
        assert effect.hours == pytest.approx(9 / (7 / 3), rel=1e-3)
        assert jury.hours_text(effect.hours) == "3.9"


def test_a_quorum_change_is_previewed_then_confirmed(app, client, admin, make_user, make_entry):
    j = make_user("judge-q")
    e1 = make_entry()
    make_entry()  # a second entry with no score: 4 more for it, 3 for the first
    _add_score(app, e1, j, 5.0, minutes_ago=10)
    with app.app_context():
        round_id = _round(app).id
        assert jury.quorum_of(_round(app)) == 3  # the QUORUM setting until the round has its own
    url = f"/admin/rounds/{round_id}/quorum"
    preview = client.post(url, data={"quorum": "4"})
    assert preview.status_code == 200
    assert "정족수 4(으)로 하면 점수가 7건 더 필요합니다." in preview.text
    with app.app_context():
        assert _round(app).quorum is None  # nothing changed yet
    assert client.post(url, data={"quorum": "0", "confirmed": "y"}).status_code == 400
    assert client.post(url, data={"quorum": "abc"}).status_code == 400
    done = client.post(url, data={"quorum": "4", "confirmed": "y"})
    assert done.status_code == 303
    with app.app_context():
        round_ = _round(app)
        assert round_.quorum == 4
        assert ranking.round_progress(round_, jury.quorum_of(round_)).quorum == 4
    assert "정족수(4명) 채움" in client.get("/admin").text


# --- the jury changing mid-round ----------------------------------------------------------------


def test_a_judge_added_mid_round_gets_work_and_existing_scores_stay(
    app, client, make_user, make_entry
):
    first = make_user("judge-first")
    entries = [make_entry() for _ in range(3)]
    for entry_id in entries:
        _add_score(app, entry_id, first, 6.0)
    with app.app_context():
        before = ranking.round_progress(_round(app), 3).scores
    make_user("judge-late")
    late = _as(app, "judge-late")
    entry_id = _next(late)
    assert entry_id in entries
    assert late.post(f"/judge/entries/{entry_id}/score", data=GOOD).status_code == 303
    with app.app_context():
        progress = ranking.round_progress(_round(app), 3)
        assert progress.scores == before + 1
        counts = dict(
            db.session.execute(
                select(Entry.id, Entry.queue_scores).where(Entry.id.in_(entries))
            ).all()
        )
    assert counts[entry_id] == 2 and sum(counts.values()) == 4


def test_a_disabled_judges_scores_keep_counting(app, client, admin, make_user, make_entry):
    gone = make_user("judge-gone")
    entry_id = make_entry()
    _add_score(app, entry_id, gone, 6.0)
    assert client.post(f"/admin/judges/{gone}/disable").status_code == 303
    with app.app_context():
        assert db.session.get(User, gone).active is False
        assert ranking.round_progress(_round(app), 1).at_quorum == 1
        assert db.session.get(Entry, entry_id).queue_scores == 1


def test_category_limits_shape_the_queue_and_the_progress(
    app, client, admin, make_user, make_entry
):
    photo_judge = make_user("judge-photo")
    photos = [make_entry(kind="photo") for _ in range(2)]
    videos = [make_entry(kind="video") for _ in range(2)]
    with app.app_context():
        round_id = _round(app).id
        photo_category = db.session.scalar(select(Category.id).where(Category.kind == "photo"))
    prefix = f"judge-{photo_judge}"
    saved = client.post(
        f"/admin/rounds/{round_id}/jury/{photo_judge}",
        data={f"{prefix}-categories": str(photo_category), f"{prefix}-email": "kim@example.kr"},
    )
    assert saved.status_code == 303
    bad = client.post(
        f"/admin/rounds/{round_id}/jury/{photo_judge}",
        data={f"{prefix}-categories": "999999", f"{prefix}-email": "kim@example.kr"},
    )
    assert bad.status_code == 400
    with app.app_context():
        assert jury.categories_of(_round(app), photo_judge) == [photo_category]
        assert db.session.get(User, photo_judge).email == "kim@example.kr"
    judge_client = _as(app, "judge-photo")
    served = set()
    while (entry_id := _next(judge_client)) is not None:
        served.add(entry_id)
        judge_client.post(f"/judge/entries/{entry_id}/score", data=GOOD)
    assert served == set(photos)
    # A video by its URL: shown, but a first score outside the judge's categories is refused.
    refused = judge_client.post(f"/judge/entries/{videos[0]}/score", data=GOOD)
    assert refused.status_code == 403
    page = judge_client.get("/judge").text
    assert re.search(r'id="to-do">0<', page)
    # A calibration entry in another category still reaches every judge.
    ids = [videos[0], videos[1], photos[0]]
    _calibrate(app, ids)
    assert _next(judge_client) == videos[0]


# --- notes and flags --------------------------------------------------------------------------


def test_a_note_is_seen_only_by_the_judge_who_wrote_it(app, client, judge, make_user, make_entry):
    entry_id = make_entry()
    saved = client.post(
        f"/judge/entries/{entry_id}/note", data={"note": "  빛이 좋음, 다시 볼 것 "}
    )
    assert saved.status_code == 303
    assert "빛이 좋음, 다시 볼 것" in client.get(f"/judge/entries/{entry_id}").text
    make_user("judge-two")
    other = _as(app, "judge-two")
    assert "빛이 좋음" not in other.get(f"/judge/entries/{entry_id}").text
    make_user("boss", role="admin")
    boss = _as(app, "boss")
    for path in (f"/admin/entries/{entry_id}", "/admin/audit", "/admin/entries"):
        assert "빛이 좋음" not in boss.get(path).text
    too_long = client.post(f"/judge/entries/{entry_id}/note", data={"note": "가" * 2001})
    assert too_long.status_code == 400 and "2000자 이하" in too_long.text
    with app.app_context():
        assert db.session.get(JudgeNote, (entry_id, judge)).text == "빛이 좋음, 다시 볼 것"
    assert client.post(f"/judge/entries/{entry_id}/note", data={"note": " "}).status_code == 303
    with app.app_context():
        assert db.session.get(JudgeNote, (entry_id, judge)) is None


def test_a_judges_flag_lands_in_the_admins_flag_list(app, client, judge, make_user, make_entry):
    entry_id = make_entry()
    quiet = make_entry()
    bad = client.post(
        f"/judge/entries/{entry_id}/flag",
        data={"kind": "near-duplicate"},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 400 and bad.json["field"] == "kind"
    for _ in range(2):  # flagging twice keeps one open flag
        sent = client.post(
            f"/judge/entries/{entry_id}/flag",
            data={"kind": "possible-ai", "detail": "손가락이 6개"},
        )
        assert sent.status_code == 303
    with app.app_context():
        (flag,) = db.session.scalars(select(Flag).where(Flag.flagged_by_id == judge)).all()
        assert (flag.entry_id, flag.kind) == (entry_id, "possible-ai")
        assert "손가락이 6개" in flag.detail
    make_user("boss", role="admin")
    boss = _as(app, "boss")
    listed = boss.get("/admin/entries?flag=possible-ai").text
    assert f"/admin/entries/{entry_id}" in listed and f'/admin/entries/{quiet}"' not in listed
    assert "AI 생성 이미지 의심" in boss.get(f"/admin/flags/{flag.id}").text


# --- behind schedule --------------------------------------------------------------------------


def test_who_is_behind_schedule(app, make_user, make_entry):
    slow, quick, idle = make_user("judge-slow"), make_user("judge-quick"), make_user("judge-idle")
    entries = [make_entry() for _ in range(6)]
    for entry_id in entries[:1]:
        _add_score(app, entry_id, slow, 5.0, minutes_ago=60)
    for entry_id in entries[:5]:
        _add_score(app, entry_id, quick, 5.0, minutes_ago=60)
    with app.app_context():
        round_ = _round(app)
        now = utcnow()
        assert schedule.behind_schedule(round_, now) == []  # no deadline: nobody is behind
        round_.opened_at = now - timedelta(hours=5)
        round_.deadline = now + timedelta(hours=2)
        db.session.commit()
        behind = {b.name: b for b in schedule.behind_schedule(round_, now)}
        # slow: 5 left at 1/3 an hour; idle: 6 left, no pace; quick: 1 left at 5/3 an hour.
        assert set(behind) == {"judge-slow", "judge-idle"}
        assert behind["judge-slow"].remaining == 5
        assert behind["judge-slow"].pace == pytest.approx(1 / 3)
        db.session.get(User, idle).active = False
        db.session.commit()
        assert {b.name for b in schedule.behind_schedule(round_, now)} == {"judge-slow"}
        # Limited to videos (none entered), the slow judge has nothing left: no longer behind.
        video = db.session.scalar(select(Category.id).where(Category.kind == "video"))
        jury.set_categories(round_, db.session.get(User, slow), [video], db.session.get(User, idle))
        db.session.commit()
        assert schedule.behind_schedule(round_, now) == []
