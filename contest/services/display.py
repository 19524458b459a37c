"""What the public may see: the booth's wall and the gallery show the same entries.

An entry is on display only when all of these hold: its entrant agreed to publication, an admin
approved it for display (or WALL_AUTO_APPROVE did on arrival), and it is neither rejected nor
withdrawn (a withdrawn entry no longer exists). One filter, so the wall, the gallery and the vote
can never disagree about it.
"""

from sqlalchemy import ColumnElement, and_

from contest.models import Entry

STATES = ("pending", "approved", "hidden")


def on_display() -> ColumnElement[bool]:
    """The WHERE clause of an entry the public may see."""
    return and_(
        Entry.consent_publish.is_(True),
        Entry.display == "approved",
        Entry.status == "submitted",
    )


def is_on_display(entry: Entry) -> bool:
    """The same rule for one loaded entry."""
    return entry.consent_publish and entry.display == "approved" and entry.status == "submitted"
