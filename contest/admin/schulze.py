"""The Schulze count of a ranking round: the order, and the matrices that explain it."""

from __future__ import annotations

from flask import abort, render_template
from sqlalchemy import select

from contest.admin import bp
from contest.core.extensions import db
from contest.models import Round
from contest.services import ballots, ranking
from contest.services.contests import current_contest


@bp.get("/rounds/<int:round_id>/schulze")
def show_schulze(round_id: int):
    """Per category: the Schulze order, the pairwise preferences d and the strongest paths p;
    and which judges have saved a ranking."""
    round_ = db.first_or_404(
        select(Round).where(Round.id == round_id, Round.contest_id == current_contest().id)
    )
    if round_.method != "ranking":
        abort(404)
    return render_template(
        "admin/schulze.html",
        round=round_,
        counts=ranking.schulze_counts(round_),
        judges=ballots.judges_progress(round_),
    )
