"""The one shape of a refusal: a message for the person, an HTTP status, and where it belongs.

Every rule of the domain that says no raises a subclass of `Refusal` (a file the contest will
not take, an entrant over the limit, a score in a closed round, the last admin disabled...).
The blueprints turn it into an error next to a form field, a flash or JSON in one place
(`core.errors`), so a service never needs to know which of them the person will see.
"""

from __future__ import annotations


class Refusal(Exception):
    """A refused request or change.

    `message` is for the person (it may be a lazy translation: it becomes text in their
    language when shown); `status` is the HTTP status it answers with; `field` names the form
    field it belongs next to, or None for the form as a whole. Subclasses set their own
    defaults as class attributes.
    """

    status: int = 409
    field: str | None = None

    def __init__(self, message: object, status: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if field is not None:
            self.field = field

    def __str__(self) -> str:
        return str(self.message)
