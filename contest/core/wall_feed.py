"""Each worker process's copy of the recent wall events, so open walls cost no database reads.

Fifty walls polling every 1.5 s, or a few streams each checking every half second, would read the
event log dozens of times a second for nothing: nearly always there is no new event. Instead each
process reads the log at most once every WALL_EVENT_POLL_SECONDS, whoever asks first (a poll or a
stream), and answers everyone else from memory. No thread of its own: nothing to start after
gunicorn forks, nothing left running after a test.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import NamedTuple

from flask import Flask, current_app

from contest.services import wall_events

# How many recent events each process keeps: far more than change between two polls.
KEEP_IN_MEMORY = 1000
_FEED = "contest.wall_feed"


class Event(NamedTuple):
    id: int
    public_id: str
    action: str


class WallFeed:
    """The events this process has read from the log, newest last."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.lock = threading.Lock()
        self.events: deque[Event] = deque(maxlen=KEEP_IN_MEMORY)
        self.latest: int | None = None  # the newest id in the log when last read
        self.start: int = 0  # every event after this id is in memory
        self.read_at = float("-inf")

    def refresh(self, force: bool = False) -> None:
        """Read the log's new events, unless another caller did less than `every` ago."""
        with self.lock:
            if not force and time.monotonic() - self.read_at < self.every:
                return
            if self.latest is None:
                self.latest = self.start = wall_events.latest_id()
            else:
                for row in wall_events.after(self.latest, limit=KEEP_IN_MEMORY):
                    self.events.append(Event(row.id, row.public_id, row.action))
                    self.latest = row.id
                if len(self.events) == KEEP_IN_MEMORY:
                    self.start = self.events[0].id - 1
            self.read_at = time.monotonic()

    def after(self, last_id: int) -> list[Event]:
        """The events after `last_id`, oldest first (from the log itself when older than what
        this process holds)."""
        self.refresh()
        with self.lock:
            if last_id >= self.start:
                return [e for e in self.events if e.id > last_id]
        return [Event(e.id, e.public_id, e.action) for e in wall_events.after(last_id)]

    def newest(self) -> int:
        """The newest event id: where a new wall starts following."""
        self.refresh()
        return self.latest or 0

    def can_replay(self, last_id: int) -> bool:
        """Whether every event after `last_id` can still be sent (else the wall reloads)."""
        self.refresh()
        if last_id > (self.latest or 0):
            self.refresh(force=True)  # a list read from the log just now may be ahead of us
            if last_id > (self.latest or 0):
                return False  # an id from another database (the site was restored)
        if last_id >= self.start:
            return True
        return wall_events.can_replay(last_id)


def feed(app: Flask | None = None) -> WallFeed:
    """This process's feed (one app per gunicorn worker process)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get(_FEED)
    if found is None:
        found = app.extensions.setdefault(_FEED, WallFeed(app.config["WALL_EVENT_POLL_SECONDS"]))
    return found
