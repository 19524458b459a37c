"""Defences on every response and request: security headers, proxy headers, rate limits."""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_wtf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from contest.core.extensions import limiter

# Every POST of every form and of the page's own scripts (X-CSRFToken header) is checked.
csrf = CSRFProtect()

# No inline script or style anywhere, so the policy can be strict. blob: lets the entry form
# preview the chosen photo before it is sent; nothing is ever loaded from another site
# (the venue network may have no internet, and no CDN is used).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' blob:",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def add_security_headers(response: Response) -> Response:
    """Headers every answer carries (a view may set a stricter policy of its own first)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        seconds = current_app.config["HSTS_SECONDS"]
        headers.setdefault("Strict-Transport-Security", f"max-age={seconds}; includeSubDomains")
    return response


def submit_rate_limit() -> str:
    """Uploads allowed per address (read per request, so settings and tests can change it)."""
    return current_app.config["SUBMIT_RATE_LIMIT"]


def recover_rate_limit() -> str:
    """Requests for one's receipt links allowed per address."""
    return current_app.config["RECOVER_RATE_LIMIT"]


def recover_target_rate_limit() -> str:
    """Requests for one's receipt links allowed per contact typed, from every address."""
    return current_app.config["RECOVER_TARGET_RATE_LIMIT"]


def login_rate_limit() -> str:
    """Login attempts allowed per address, on top of the per-account throttle."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def vote_rate_limit() -> str:
    """People's-choice votes allowed per address."""
    return current_app.config["VOTE_RATE_LIMIT"]


def init_app(app: Flask) -> None:
    """Trust the configured proxies, add the headers, start the rate limiter."""
    hops = app.config["PROXY_FIX_HOPS"]
    if hops:
        # Behind nginx the client's address and scheme arrive in X-Forwarded-* headers;
        # trusting exactly as many hops as there are proxies keeps them unforgeable.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.after_request(add_security_headers)
    limiter.init_app(app)
