"""The organisers' home page: the contest at a glance."""

from __future__ import annotations

from flask import render_template

from contest.admin import bp
from contest.core import mail
from contest.models import utcnow
from contest.services import dashboard, jury, ranking, rounds, schedule
from contest.services.contests import current_contest


@bp.get("")
def show_dashboard():
    """The contest at a glance: entries, submissions per hour, judging progress, disk use, and
    accounts someone is guessing the passwords of."""
    contest = current_contest()
    round_ = rounds.active_round(contest)
    progress = judges = None
    if round_ is not None:
        progress = ranking.round_progress(round_, jury.quorum_of(round_))
        judges = ranking.judge_stats(round_)
    hours = dashboard.submissions_per_hour(contest)
    return render_template(
        "admin/dashboard.html",
        contest=contest,
        quorum=jury.quorum_of(round_),
        active_judges=dashboard.active_judges(),
        shared_winners=dashboard.entrants_with_several_awards(contest),
        round=round_,
        progress=progress,
        judges=judges,
        behind=schedule.behind_schedule(round_, utcnow()),
        counts=dashboard.entry_counts(contest),
        hours=hours,
        busiest=dashboard.busiest(hours),
        disk=dashboard.disk_use(),
        sign_in_alerts=dashboard.sign_in_alerts(),
        mail_on=mail.enabled(),
    )
