"""The one shape of a refused admin action: a message for the person and an HTTP status."""

from __future__ import annotations


class Refusal(ValueError):
    """A refused change, with a message for the admin and an HTTP status.

    The message may be a lazy translation: it becomes text in the admin's language when shown.
    """

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
