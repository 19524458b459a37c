"""Server-Sent Events for the booth's walls, built so open walls never starve uploads.

gunicorn's gthread workers (server/gunicorn_conf.py: 2 processes x 4 threads) give a streaming
response one thread for its whole life. So:

- **Bounded**: each worker process serves at most WALL_STREAMS_PER_WORKER streams at once (a
  semaphore per app, that is per process). A wall asking beyond that gets 503 with Retry-After
  at once and its page polls `/wall/events.json` every WALL_POLL_SECONDS instead (a short
  request, like any other), trying the stream again later. Uploads and judging keep the other
  threads whatever number of walls is open.
- **Follows the event log** (`services/wall_events.py`): every WALL_EVENT_POLL_SECONDS the stream
  asks for the events after the last it sent, so a change made in any worker process or on any
  app server reaches it (the events were committed with their change); the process reads the
  log once for all its streams and polls (`core/wall_feed.py`).
- **Heartbeat**: a comment line every WALL_HEARTBEAT_SECONDS keeps nginx's proxy_read_timeout
  from closing a quiet stream and reveals a wall that went away (the write fails, the thread
  is freed).
- **Reconnects and resyncs**: the first line is a `retry:` hint; every event carries its log id,
  so the browser's automatic reconnect sends `Last-Event-ID` and the stream replays what the
  wall missed. When those events are no longer kept, it sends a `resync` event and the wall
  reloads its whole list.
- **Bounded lifetime**: a stream ends after WALL_STREAM_MAX_SECONDS (with jitter) and the
  browser reconnects from where it was, so no wall holds a thread for a whole day. A worker
  that stops gracefully ends its streams at once (`end_all_streams`, called on gunicorn's
  SIGTERM), so open walls never hold up a restart.
- **Unbuffered**: `X-Accel-Buffering: no` tells nginx to pass each event on at once.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator

from flask import Flask, Response, current_app, stream_with_context

from contest.core.extensions import db

# What the browser waits before reconnecting after a drop (EventSource's `retry:` field).
RETRY_MILLISECONDS = 2000
_SLOTS = "contest.wall_stream_slots"

# Set when this process begins a graceful stop (gunicorn's SIGTERM, server/gunicorn_conf.py):
# every stream ends at once and its wall reconnects, to the restarted server or another worker,
# from the last event it saw. A stream with its wall still reading would otherwise hold the stop
# until gunicorn's graceful timeout (30 s) ran out, at every restart.
_stopping = threading.Event()

# (event id, the JSON-able data) of the events after the given id, oldest first.
ReadEvents = Callable[[int], list[tuple[int, dict]]]


def slots(app: Flask) -> threading.BoundedSemaphore:
    """This process's stream slots (one app per worker process)."""
    found = app.extensions.get(_SLOTS)
    if found is None:
        found = app.extensions[_SLOTS] = threading.BoundedSemaphore(
            app.config["WALL_STREAMS_PER_WORKER"]
        )
    return found


def end_all_streams() -> None:
    """End this process's streams now (it is stopping) and open no more."""
    _stopping.set()


def open_stream(read_events: ReadEvents, after: int, resync: bool) -> Response | None:
    """The event stream from event `after` on, or None when this worker has no slot free (or
    is stopping).

    `resync`: the wall's last event is no longer kept; it is told to reload its list first.
    """
    app = current_app._get_current_object()
    held = slots(app)
    if _stopping.is_set() or not held.acquire(blocking=False):
        return None
    config = app.config
    lifetime = config["WALL_STREAM_MAX_SECONDS"] * random.uniform(0.9, 1.0)
    release = _once(held.release)
    body = _events(
        release,
        read_events,
        after,
        resync,
        deadline=time.monotonic() + lifetime,
        heartbeat=config["WALL_HEARTBEAT_SECONDS"],
        poll=config["WALL_EVENT_POLL_SECONDS"],
    )
    response = Response(stream_with_context(body), mimetype="text/event-stream")
    # Released when the stream ends, or when the server closes a response it never ran.
    response.call_on_close(release)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _once(release: Callable[[], None]) -> Callable[[], None]:
    """`release`, run at most once however many of the ways out call it."""
    done = threading.Event()

    def release_once() -> None:
        if not done.is_set():
            done.set()
            release()

    return release_once


def _events(
    release: Callable[[], None],
    read_events: ReadEvents,
    after: int,
    resync: bool,
    deadline: float,
    heartbeat: float,
    poll: float,
) -> Iterator[str]:
    try:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        if resync:
            yield f"id: {after}\nevent: resync\ndata: {{}}\n\n"
        last_sent = time.monotonic()
        while time.monotonic() < deadline and not _stopping.is_set():
            try:
                found = read_events(after)
            finally:
                # Each read in its own short transaction: a SQLite reader would otherwise keep
                # its snapshot (and never see new events); the connection goes back to the pool.
                db.session.remove()
            for event_id, data in found:
                yield f"id: {event_id}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                after = event_id
                last_sent = time.monotonic()
            if time.monotonic() - last_sent >= heartbeat:
                yield ": heartbeat\n\n"
                last_sent = time.monotonic()
            _stopping.wait(poll)
    finally:
        release()
