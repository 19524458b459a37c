"""Media checks and derivatives: what the contest accepts, judged by content."""


class Rejected(Exception):
    """A file the contest refuses: `message` for the visitor (Korean), `status` for HTTP."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
