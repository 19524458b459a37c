"""Background jobs on huey: a SQLite queue by default, Redis when the site spans machines.

The web app only enqueues; `flask --app wsgi worker` runs the jobs, each inside an app context.
A job owns its transactions as a view does: the services it calls only flush. With TESTING on
(or HUEY_IMMEDIATE), huey runs a job at the moment it is enqueued, so tests are deterministic
without a worker.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey, crontab

from contest.core.database import write_transaction
from contest.core.extensions import db
from contest.models import utcnow
from contest.services import playback, uploads_in_flight, zoom


def init_app(app: Flask) -> None:
    """Create the app's queue and register its tasks on it."""
    config = app.config
    immediate = config["HUEY_IMMEDIATE"]
    if immediate is None:
        immediate = bool(config.get("TESTING"))
    url, name = config.get("HUEY_URL"), config["HUEY_NAME"]
    if url:
        huey: Huey = RedisHuey(name, url=url, immediate=immediate)
    else:
        path = Path(app.instance_path) / "jobs.db"
        huey = SqliteHuey(name, filename=str(path), immediate=immediate)

    @huey.task(name="make_playback")
    def make_playback_task(entry_id: int) -> None:
        with app.app_context():
            make_playback_copy(entry_id)

    @huey.task(name="record_zoom_copy")
    def record_zoom_copy_task(
        entry_id: int, key: str, content_type: str, size: int, width: int, height: int
    ) -> None:
        with app.app_context(), write_transaction():
            zoom.record_copy(entry_id, key, content_type, size, width, height)

    # Resumable uploads nobody finished (or submitted) within UPLOAD_EXPIRY: every 15 minutes.
    @huey.periodic_task(crontab(minute="*/15"), name="remove_expired_uploads")
    def remove_expired_uploads_task() -> None:
        with app.app_context():
            remove_expired_uploads()

    app.extensions["contest.huey"] = huey
    app.extensions["contest.tasks"] = {
        "make_playback": make_playback_task,
        "record_zoom_copy": record_zoom_copy_task,
        "remove_expired_uploads": remove_expired_uploads_task,
    }


def queue() -> Huey:
    """The current app's huey instance (the worker command runs its consumer)."""
    return current_app.extensions["contest.huey"]


def enqueue_playback(entry_id: int) -> None:
    """Ask for the browser-playable copy of a video entry (after its row has committed)."""
    current_app.extensions["contest.tasks"]["make_playback"](entry_id)


def start_entry_jobs(entry_id: int, playback_status: str | None) -> None:
    """Queue what a just-committed entry still needs (a video's playback copy).

    The entry is accepted by then: a queue that cannot be reached (Redis down) must not turn
    that into an error page. The copy is recorded as failed instead, which `doctor` reports
    and `doctor --repair` queues again.
    """
    if playback_status != "pending":
        return
    try:
        enqueue_playback(entry_id)
    except Exception as error:  # noqa: BLE001 - whatever the queue's client raises
        current_app.logger.exception("could not queue the playback copy of entry %s", entry_id)
        with write_transaction():
            playback.record_failure(entry_id, f"not queued: {type(error).__name__}: {error}")


def enqueue_zoom_copy(copy: zoom.ZoomCopy) -> None:
    """Have a worker record a zoom copy a judge's request made and stored.

    If the queue cannot be reached the copy stays unrecorded: `doctor --repair` removes the
    file, and the next judge to zoom makes another.
    """
    try:
        current_app.extensions["contest.tasks"]["record_zoom_copy"](
            copy.entry_id, copy.key, copy.content_type, len(copy.data), copy.width, copy.height
        )
    except Exception:  # noqa: BLE001 - whatever the queue's client raises
        current_app.logger.exception("could not queue the zoom copy of entry %s", copy.entry_id)


def make_playback_copy(entry_id: int) -> None:
    """Make and record a video's playback copy, or record why it could not be made."""
    original = playback.original_needing_copy(entry_id)
    db.session.rollback()  # no transaction stays open through minutes of transcoding
    if original is None:
        return
    try:
        key, size = playback.transcode(original)
    except Exception as error:  # noqa: BLE001 - any failure is recorded for the admins
        current_app.logger.warning("playback copy of entry %s failed: %s", entry_id, error)
        with write_transaction():
            playback.record_failure(entry_id, f"{type(error).__name__}: {error}")
        return
    with write_transaction():
        playback.record_success(entry_id, key, size)


def remove_expired_uploads() -> int:
    """Remove the resumable uploads older than UPLOAD_EXPIRY: rows, then (committed) files."""
    with write_transaction():
        paths = uploads_in_flight.remove_expired(utcnow(), current_app.config["UPLOAD_EXPIRY"])
    for path in paths:
        uploads_in_flight.remove_file(path)
    return len(paths)
