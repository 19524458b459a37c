"""The organisers' pages: dashboard, judges, rounds and results."""

from __future__ import annotations

from flask import Blueprint, render_template

from .auth import require_role

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role("admin"))


@bp.get("")
def show_dashboard():
    """The contest at a glance."""
    return render_template("admin/dashboard.html")
