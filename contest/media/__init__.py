"""Media checks and derivatives: what the contest accepts, judged by content."""

from contest.core.refusal import Refusal


class Rejected(Refusal):
    """A file the contest refuses: the message for the visitor, next to the file field."""

    status = 422
    field = "media"
