"""The award ceremony's stage presentation: the published winners, one full-screen slide each."""

from __future__ import annotations

from flask import render_template

from contest.admin import bp
from contest.services import awards
from contest.services.contests import current_contest


@bp.get("/reveal")
def show_reveal():
    """Slides from the lowest tier up to 대상, category by category (reveal.js steps through
    them with Space, → and ←, and loads the next picture ahead); a notice until published."""
    contest = current_contest()
    return render_template(
        "admin/reveal.html", contest=contest, slides=awards.reveal_order(contest)
    )
