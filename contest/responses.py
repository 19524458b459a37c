"""Answering in the form the caller asked for."""

from flask import request


def wants_json() -> bool:
    """Whether the caller prefers JSON (the page's own upload script, the booth kiosk, checks)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"
