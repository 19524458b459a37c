"""Answering in the form the caller asked for, where a redirect may go, absolute links."""

from urllib.parse import urlsplit

from flask import request, url_for


def external_url(base: str | None, endpoint: str, **values) -> str:
    """An absolute link: on `base` (the site's public address, `contests.public_url`) when it
    is known, else on the host the current request came to."""
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def wants_json() -> bool:
    """Whether the caller prefers JSON (the page's own upload script, the booth kiosk, checks)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site; never another host (an open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or not target.isprintable():
        # A backslash is a host separator to some browsers; a CR or LF would end the
        # Location header (Werkzeug refuses it with a 500).
        return None
    return target
