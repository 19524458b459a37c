"""The booth's live wall: approving and hiding entries for display, the events every open wall
follows, the polling fallback and WALL_AUTO_APPROVE."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from contest.core.extensions import db
from contest.models import AuditLog, Entry, WallEvent

JSON = {"Accept": "application/json"}


def _entry(app, entry_id: int) -> Entry:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        db.session.expunge(entry)
        return entry


def _events(app) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(WallEvent.public_id, WallEvent.action).order_by(WallEvent.id)
        )
        return [tuple(row) for row in rows]


def _wall(client) -> list[dict]:
    response = client.get("/wall/entries.json")
    assert response.status_code == 200
    return response.get_json()["entries"]


def _stream(client, after: int | None = None, last_event_id: str | None = None) -> str:
    """The whole stream as text (the tests' WALL_STREAM_MAX_SECONDS ends it quickly)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    url = "/wall/events" if after is None else f"/wall/events?after={after}"
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no"
    return response.get_data(as_text=True)


def _data(stream: str) -> list[dict]:
    return [json.loads(line[6:]) for line in stream.splitlines() if line.startswith('data: {"')]


def test_an_approved_entry_goes_on_the_wall_with_a_masked_name_and_its_public_id(
    app, client, admin, make_entry
):
    entry_id = make_entry(title="코엑스의 아침", entrant_name="홍길동", consent_publish=True)
    assert _wall(client) == []  # opt-in: nothing is shown before an admin approves

    response = client.post(f"/admin/wall/{entry_id}/approve", headers=JSON)

    assert response.status_code == 200, response.get_data(as_text=True)
    entry = _entry(app, entry_id)
    assert response.get_json() == {
        "id": entry_id,
        "public_id": entry.public_id,
        "display": "approved",
    }
    assert entry.display == "approved" and entry.display_decided_at is not None
    (card,) = _wall(client)
    assert card["public_id"] == entry.public_id
    assert card["title"] == "코엑스의 아침" and card["name"] == "홍*동"
    assert card["image"].startswith("/media/") and card["kind"] == "photo"
    text = json.dumps(card, ensure_ascii=False)
    assert entry.receipt not in text and "홍길동" not in text and "entrant" not in text
    assert _events(app) == [(entry.public_id, "shown")]
    with app.app_context():
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "display-approved"))
        assert log.target == f"entry:{entry_id}" and log.new == {"display": "approved"}

    # Approving twice changes nothing and announces nothing twice.
    assert client.post(f"/admin/wall/{entry_id}/approve", headers=JSON).status_code == 200
    assert len(_events(app)) == 1


def test_only_consenting_submitted_approved_entries_are_shown(app, client, admin, make_entry):
    shown = make_entry(consent_publish=True)
    pending = make_entry(consent_publish=True)
    private = make_entry(consent_publish=False)
    rejected = make_entry(consent_publish=True, status="rejected")

    assert client.post(f"/admin/wall/{shown}/approve", headers=JSON).status_code == 200
    refused = client.post(f"/admin/wall/{private}/approve", headers=JSON)
    assert refused.status_code == 409
    assert "공개에 동의하지 않은" in refused.get_json()["error"]
    assert client.post(f"/admin/wall/{rejected}/approve", headers=JSON).status_code == 409

    assert [c["public_id"] for c in _wall(client)] == [_entry(app, shown).public_id]
    assert _entry(app, private).display == "pending" and _entry(app, rejected).display == "pending"
    assert _entry(app, pending).display == "pending"
    assert len(_events(app)) == 1  # the refusals announced nothing

    # The queue lists the consenting, submitted entries still to decide.
    page = client.get("/admin/wall").get_data(as_text=True)
    assert f'data-entry="{pending}"' in page
    for other in (shown, private, rejected):
        assert f'data-entry="{other}"' not in page
    assert f'data-entry="{shown}"' in client.get("/admin/wall?state=approved").get_data(
        as_text=True
    )


def test_hiding_rejecting_and_withdrawing_take_an_entry_off_every_wall(
    app, client, admin, make_entry
):
    ids = [make_entry(consent_publish=True) for _ in range(3)]
    for entry_id in ids:
        assert client.post(f"/admin/wall/{entry_id}/approve", headers=JSON).status_code == 200
    hidden, rejected, withdrawn = (_entry(app, i).public_id for i in ids)

    assert client.post(f"/admin/wall/{ids[0]}/hide", headers=JSON).get_json()["display"] == "hidden"
    response = client.post(f"/admin/entries/{ids[1]}/reject", data={"reason": "초상권 문제"})
    assert response.status_code == 303
    response = client.post(f"/admin/entries/{ids[2]}/withdraw", data={"withdraw-reason": "요청"})
    assert response.status_code == 303

    assert _wall(client) == []
    assert _events(app)[3:] == [(hidden, "removed"), (rejected, "removed"), (withdrawn, "removed")]
    # Hiding an entry that is not shown announces nothing.
    other = make_entry(consent_publish=True)
    assert client.post(f"/admin/wall/{other}/hide", headers=JSON).status_code == 200
    assert len(_events(app)) == 6


def test_restoring_a_rejected_entry_puts_it_back_on_the_walls(app, client, admin, make_entry):
    entry_id = make_entry(consent_publish=True)
    client.post(f"/admin/wall/{entry_id}/approve", headers=JSON)
    client.post(f"/admin/entries/{entry_id}/reject", data={"reason": "확인 필요"})
    assert client.post(f"/admin/entries/{entry_id}/restore").status_code == 303
    public_id = _entry(app, entry_id).public_id
    assert [a for _p, a in _events(app)] == ["shown", "removed", "shown"]
    assert [c["public_id"] for c in _wall(client)] == [public_id]


def test_a_visitors_withdrawal_takes_the_entry_off_the_walls(app, client, submit):
    app.config["WALL_AUTO_APPROVE"] = True
    response = submit(json=True, consent_publish="y")
    assert response.status_code == 201, response.get_data(as_text=True)
    code = response.get_json()["receipt"]
    with app.app_context():
        entry = db.session.scalar(select(Entry))
        public_id = entry.public_id
    assert [c["public_id"] for c in _wall(client)] == [public_id]

    response = client.post(f"/receipt/{code}/withdraw")
    assert response.status_code == 303, response.get_data(as_text=True)

    assert _wall(client) == []
    assert _events(app) == [(public_id, "shown"), (public_id, "removed")]


def test_entries_wait_for_approval_unless_wall_auto_approve_is_on(app, client, submit):
    assert app.config["WALL_AUTO_APPROVE"] is False  # the default: opt-in
    assert submit(json=True, consent_publish="y", title="기다림").status_code == 201
    app.config["WALL_AUTO_APPROVE"] = True
    assert (
        submit(json=True, consent_publish="y", title="바로", phone="010-2222-3333").status_code
        == 201
    )
    assert submit(json=True, title="비공개", phone="010-4444-5555").status_code == 201
    with app.app_context():
        states = dict(db.session.execute(select(Entry.title, Entry.display)).all())
    assert states == {"기다림": "pending", "바로": "approved", "비공개": "pending"}
    assert [c["title"] for c in _wall(client)] == ["바로"]


def test_the_stream_replays_events_after_the_last_one_seen_then_ends(make_app, make_entry):
    app = make_app(WALL_STREAM_MAX_SECONDS=0.3, WALL_EVENT_POLL_SECONDS=0.05)
    client = app.test_client()
    entry_id = make_entry(consent_publish=True)
    other_id = make_entry(consent_publish=True)
    from contest.models import utcnow
    from contest.services import display

    with app.app_context():
        entry, other = db.session.get(Entry, entry_id), db.session.get(Entry, other_id)
        display.approve(entry, None, utcnow())
        display.approve(other, None, utcnow())
        display.hide(entry, None, utcnow())
        db.session.commit()
        first = db.session.scalar(select(func.min(WallEvent.id)))
        public_ids = entry.public_id, other.public_id

    stream = _stream(client, after=first)  # missed the last two events
    assert stream.startswith("retry: 2000\n\n")
    assert [(d["public_id"], d["action"]) for d in _data(stream)] == [
        (public_ids[1], "shown"),
        (public_ids[0], "removed"),
    ]
    assert re.search(rf"^id: {first + 2}$", stream, re.M)
    shown = _data(stream)[0]["entry"]
    assert shown["public_id"] == public_ids[1] and shown["title"]
    # The browser's reconnect sends Last-Event-ID: it wins over the page's ?after=.
    assert _data(_stream(client, after=0, last_event_id=str(first + 1))) == _data(stream)[1:]
    # A new wall starts from now: nothing old is replayed.
    assert _data(_stream(client)) == []


def test_a_wall_whose_events_are_gone_is_told_to_reload(make_app):
    app = make_app(WALL_STREAM_MAX_SECONDS=0.2, WALL_EVENT_POLL_SECONDS=0.05)
    client = app.test_client()
    # An id from before a restore (beyond the newest), or not a number at all.
    for sent in ("12345", "garbage"):
        stream = _stream(client, last_event_id=sent)
        assert "event: resync" in stream
        poll = client.get(f"/wall/events.json?after={sent}").get_json()
        assert poll["resync"] is True and poll["events"] == []


def test_walls_beyond_the_streams_of_a_worker_poll_instead(make_app, make_entry):
    app = make_app(WALL_STREAMS_PER_WORKER=0, WALL_EVENT_POLL_SECONDS=0)
    client = app.test_client()
    busy = client.get("/wall/events")
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "60"
    assert busy.get_json()["poll"] == "/wall/events.json"

    last = client.get("/wall/entries.json").get_json()["last_event"]
    entry_id = make_entry(consent_publish=True)
    from contest.models import utcnow
    from contest.services import display

    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        display.approve(entry, None, utcnow())
        db.session.commit()
        public_id = entry.public_id
    answer = client.get(f"/wall/events.json?after={last}").get_json()
    assert answer["resync"] is False
    assert [(e["public_id"], e["action"]) for e in answer["events"]] == [(public_id, "shown")]
    assert answer["last_event"] > last
    again = client.get(f"/wall/events.json?after={answer['last_event']}").get_json()
    assert again["events"] == [] and again["last_event"] == answer["last_event"]
    assert client.get("/wall/events.json?after=99999999999999999999999").status_code == 400


def test_the_wall_page_shows_the_submit_qr_code_and_a_call_to_enter_in_both_languages(app, client):
    app.config["PUBLIC_URL"] = "https://contest.example.kr"
    page = client.get("/wall")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<svg class="qr"' in text
    assert "사진·영상으로 참여하세요!" in text and "Take part with a photo or a video!" in text
    assert 'data-events-url="/wall/events"' in text and "js/wall.js" in text
    assert "<script>" not in text  # no inline script: the CSP holds


def test_the_queue_works_without_scripts_and_keeps_csrf(make_app, make_user, make_entry):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    make_user("organiser-lee", role="admin")
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    signed_in = client.post(
        "/login",
        data={
            "username": "organiser-lee",
            "password": "correct horse battery",
            "csrf_token": token,
        },
    )
    assert signed_in.status_code == 303
    entry_id = make_entry(consent_publish=True)

    # No token: refused, with a message, and nothing changed.
    refused = client.post(f"/admin/wall/{entry_id}/approve", headers=JSON)
    assert refused.status_code == 400 and refused.get_json()["errors"]["csrf_token"]
    assert _entry(app, entry_id).display == "pending"

    page = client.get("/admin/wall").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    # The page's script sends the token as a header.
    by_script = client.post(f"/admin/wall/{entry_id}/hide", headers={**JSON, "X-CSRFToken": token})
    assert by_script.status_code == 200 and _entry(app, entry_id).display == "hidden"
    # Without the script, the form posts and comes back to the page it was on.
    by_form = client.post(
        f"/admin/wall/{entry_id}/approve",
        data={"csrf_token": token, "next": "/admin/wall?state=hidden"},
    )
    assert by_form.status_code == 303 and by_form.location == "/admin/wall?state=hidden"
    assert _entry(app, entry_id).display == "approved"


def test_a_refused_approval_without_scripts_says_why_on_the_page(app, client, admin, make_entry):
    entry_id = make_entry(consent_publish=False)
    response = client.post(f"/admin/wall/{entry_id}/approve", data={"next": "/admin/wall"})
    assert response.status_code == 409
    assert "공개에 동의하지 않은 작품은 전시할 수 없습니다." in response.get_data(as_text=True)
    assert client.post("/admin/wall/999999/approve", headers=JSON).status_code == 404


def test_a_worker_reads_the_event_log_once_for_all_its_walls(make_app, make_entry):
    """Fifty walls polling must not mean fifty reads of the log: within WALL_EVENT_POLL_SECONDS
    the process answers from what it read last."""
    from sqlalchemy import event

    app = make_app(WALL_EVENT_POLL_SECONDS=60)
    client = app.test_client()
    last = client.get("/wall/entries.json").get_json()["last_event"]
    client.get(f"/wall/events.json?after={last}")  # the first poll reads the log
    reads = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        if "wall_event" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(50):
            answer = client.get(f"/wall/events.json?after={last}").get_json()
            assert answer == {"resync": False, "last_event": last, "events": []}
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert reads == []


def test_a_video_shows_its_poster_until_its_playable_copy_is_ready_then_plays(
    app, client, admin, make_entry
):
    from contest.services import playback

    entry_id = make_entry(kind="video", consent_publish=True)
    client.post(f"/admin/wall/{entry_id}/approve", headers=JSON)
    (card,) = _wall(client)
    assert card["kind"] == "video" and card["video"] is None and card["image"]  # the poster

    with app.app_context():
        playback.record_success(entry_id, "derived/aa/copy.mp4", 1234)
        db.session.commit()
    (card,) = _wall(client)
    assert card["video"] == "/media/derived/aa/copy.mp4"
    # The walls hear of it: "shown" again, so a wall swaps the poster for the playing copy.
    public_id = _entry(app, entry_id).public_id
    assert _events(app) == [(public_id, "shown"), (public_id, "shown")]


def test_the_dashboard_links_the_wall_and_the_reveal(client, admin):
    page = client.get("/admin").get_data(as_text=True)
    assert (
        'href="/admin/wall"' in page and 'href="/wall"' in page and 'href="/admin/reveal"' in page
    )
