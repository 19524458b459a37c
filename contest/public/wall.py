"""The booth's live wall: a full-screen page, its entries as JSON, and their changes as events.

The stream's design (bounded per worker, polling beyond it, heartbeat, reconnect and resync,
bounded lifetime) is in `core/wall_stream.py`; the event log in `services/wall_events.py`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from contest.core.arguments import id_from
from contest.core.qr import qr_svg
from contest.core.responses import external_url
from contest.core.wall_feed import feed
from contest.core.wall_stream import open_stream
from contest.models import Entry
from contest.services import display, wall_events
from contest.services.awards import mask_name
from contest.services.contests import current_contest, public_url

bp = Blueprint("wall", __name__)


@bp.get("/wall")
def show_wall():
    """The full-screen wall: cards fetched and kept up to date by wall.js, the QR code fixed."""
    contest = current_contest()
    url = external_url(public_url(contest), "submit.show_form")
    # Both languages at once: the screen is for everyone walking past, not for one browser.
    calls = {}
    for code in ("ko", "en"):
        with force_locale(code):
            calls[code] = (
                _("사진·영상으로 참여하세요!"),
                _("QR 코드를 찍고 방금 찍은 사진이나 영상을 올려 주세요."),
            )
    return render_template("wall.html", contest=contest, qr=qr_svg(url), url=url, calls=calls)


@bp.get("/wall/entries.json")
def list_entries():
    """The entries on display, newest first, and the event the wall follows on from."""
    contest = current_contest()
    last = wall_events.latest_id()  # read first: a change after it is replayed, never lost
    shown = display.shown_entries(contest, current_app.config["WALL_MAX_ENTRIES"])
    return _no_store(jsonify(last_event=last, entries=[card(e) for e in shown]))


@bp.get("/wall/events")
def stream_events():
    """Server-Sent Events from the last event the wall saw (`Last-Event-ID` or `?after=`);
    503 when this worker's streams are all taken: the wall polls /wall/events.json instead."""
    after, resync = _start()
    response = open_stream(_read_events, after, resync)
    if response is None:
        busy = jsonify(error=_("잠시 뒤 다시 연결합니다."), poll=url_for("wall.poll_events"))
        busy.headers["Retry-After"] = "60"
        return _no_store(busy), 503
    return response


@bp.get("/wall/events.json")
def poll_events():
    """The same events for a wall without a stream: those after `?after=`, and where to go on."""
    after, resync = _start()
    events = [] if resync else _read_events(after)
    last = events[-1][0] if events else after
    return _no_store(jsonify(resync=resync, last_event=last, events=[data for _id, data in events]))


def card(entry: Entry) -> dict:
    """What a wall shows of an entry: never its receipt code, its row id or a full name."""
    preview = entry.asset("preview")
    playback = entry.asset("playback") if entry.is_video else None
    return {
        "public_id": entry.public_id,
        "title": entry.title,
        "name": mask_name(entry.entrant_name),
        "kind": "video" if entry.is_video else "photo",
        "image": url_for("media.show_media", key=preview.key) if preview else None,
        "width": preview.width if preview else None,
        "height": preview.height if preview else None,
        "video": url_for("media.show_media", key=playback.key) if playback else None,
    }


def _read_events(after: int) -> list[tuple[int, dict]]:
    """The events after `after` as the walls receive them: a "shown" one carries the card."""
    events = feed().after(after)
    if not events:
        return []  # nearly always: answered from this process's memory, no database read
    cards = display.shown_by_public_ids(
        [e.public_id for e in events if e.action == wall_events.SHOWN]
    )
    found = []
    for event in events:
        data = {"public_id": event.public_id, "action": event.action}
        if event.action == wall_events.SHOWN:
            entry = cards.get(event.public_id)
            # Gone again since (a later event says "removed"): nothing to draw.
            data["entry"] = card(entry) if entry is not None else None
        found.append((event.id, data))
    return found


def _start() -> tuple[int, bool]:
    """Where a wall follows on from: the event it saw last, or now; and whether the events
    since are no longer kept, so it must reload its list."""
    sent = request.headers.get("Last-Event-ID") or request.args.get("after")
    if sent is None:
        return feed().newest(), False
    after = id_from(sent)
    if after is None:  # not a number: start from now, with the whole list reloaded
        return feed().newest(), True
    return after, not feed().can_replay(after)


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response
