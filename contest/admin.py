"""The organisers' pages: dashboard, judges, rounds and results."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from . import dashboard, rounds, scoring
from .auth import require_role
from .extensions import db
from .models import Category, Contest, Entry
from .submit import current_contest

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_role("admin"))


@bp.get("")
def show_dashboard():
    """The contest at a glance: entries, submissions per hour, judging progress, disk use."""
    contest = current_contest()
    round_ = rounds.active_round(contest)
    progress = judges = None
    if round_ is not None:
        progress = scoring.round_progress(round_, current_app.config["QUORUM"])
        judges = scoring.judge_stats(round_)
    hours = dashboard.submissions_per_hour(contest)
    return render_template(
        "admin/dashboard.html",
        contest=contest,
        round=round_,
        progress=progress,
        judges=judges,
        counts=entry_counts(contest),
        hours=hours,
        busiest=dashboard.busiest(hours),
        disk=dashboard.disk_use(),
    )


def entry_counts(contest: Contest) -> list[tuple[Category, dict[str, int]]]:
    """Each category of the contest with its number of entries per status (none left out)."""
    query = (
        select(Entry.category_id, Entry.status, func.count(Entry.id))
        .where(Entry.contest_id == contest.id)
        .group_by(Entry.category_id, Entry.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for category_id, status, count in db.session.execute(query):
        counts.setdefault(category_id, {})[status] = count
    return [(category, counts.get(category.id, {})) for category in contest.categories]
