"""Background jobs on huey: a SQLite queue by default, Redis when the site spans machines.

The web app only enqueues; `flask --app wsgi worker` runs the jobs, each inside an app context.
With TESTING on (or HUEY_IMMEDIATE), huey runs a job at the moment it is enqueued, so tests are
deterministic without a worker.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey

from contest.services import playback


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
            playback.make_for_entry(entry_id)

    app.extensions["contest.huey"] = huey
    app.extensions["contest.tasks"] = {"make_playback": make_playback_task}


def queue() -> Huey:
    """The current app's huey instance (the worker command runs its consumer)."""
    return current_app.extensions["contest.huey"]


def enqueue_playback(entry_id: int) -> None:
    """Ask for the browser-playable copy of a video entry (after its row has committed)."""
    current_app.extensions["contest.tasks"]["make_playback"](entry_id)
