"""The judge's screens: dashboard, the next entry, scoring and recusal."""

from __future__ import annotations

from flask import Blueprint, render_template

from .auth import require_role

bp = Blueprint("judge", __name__, url_prefix="/judge")
bp.before_request(require_role("judge"))


@bp.get("")
def show_dashboard():
    """The judge's progress in the active round."""
    return render_template("judge/dashboard.html")
