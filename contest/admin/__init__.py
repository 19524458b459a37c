"""The organisers' pages: one blueprint under /admin, guarded once for the admin role.

Each page module adds its routes to `bp` when imported (as CTFd's admin package does); the
imports at the bottom are what puts every page on the blueprint.
"""

from __future__ import annotations

from flask import Blueprint

from contest.auth.guards import require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role("admin"))

from contest.admin import (  # noqa: E402, F401  (the pages register themselves on bp)
    audit,
    awards,
    calibration,
    dashboard,
    entries,
    exports,
    jury,
    poster,
    results,
    reveal,
    rounds,
    schulze,
    settings,
    staff,
    vote_tokens,
    wall,
)
