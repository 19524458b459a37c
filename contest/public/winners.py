"""The public winners page: shown once the results are published, with names masked."""

from __future__ import annotations

from flask import Blueprint, render_template

from contest.services import awards
from contest.services.contests import current_contest

bp = Blueprint("winners", __name__)


@bp.get("/winners")
def show_winners():
    """The awards per category and tier; "not yet announced" (404) until they are published."""
    contest = current_contest()
    if contest.results_published_at is None:
        return render_template("winners.html", contest=contest, groups=None), 404
    return render_template("winners.html", contest=contest, groups=awards.public_winners(contest))
