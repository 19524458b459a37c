"""The organisers' results pages: leaderboard, CSV export, judging progress, closing a round."""

from __future__ import annotations

import math

from flask import Response, abort, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import FloatField, HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from contest.admin import bp
from contest.core.arguments import id_arg, page_arg
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Contest, Round
from contest.services import exports, jury, moderation, ranking, rounds
from contest.services.audit import audit
from contest.services.contests import current_contest

DEFAULT_THRESHOLD = 0.5
# Rows per category on the leaderboard page: it stays the same size however many entries
# there are (bench/growth.py); the CSV export has every row.
LEADERBOARD_PER_PAGE = 50
BAD_THRESHOLD = _l("통과 기준은 0과 1 사이의 값이어야 합니다.")


def _is_share(value: float) -> bool:
    return math.isfinite(value) and 0 <= value <= 1


def _share(raw: str) -> float | None:
    """A share from 0 to 1 as typed, or None if it is not one."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if _is_share(value) else None


def _finite(form, field) -> None:
    if field.data is not None and not _is_share(field.data):
        raise ValidationError(BAD_THRESHOLD)


class CloseRoundForm(FlaskForm):
    """Close a round: the yes-share an entry needs to advance, and how the next round judges."""

    threshold = FloatField(
        _l("통과 기준 (찬성 비율)"),
        default=DEFAULT_THRESHOLD,
        validators=[InputRequired(), _finite],
    )
    next_method = SelectField(
        _l("다음 라운드 방식"),
        choices=[
            SelectChoice("scoring", _l("점수 심사")),
            SelectChoice("screening", _l("통과/탈락 심사")),
        ],
        default="scoring",
    )
    digest = HiddenField()


@bp.get("/leaderboard")
def show_leaderboard():
    """The ranking of a round (the open or latest one unless ?round=<id>), per category.

    The first LEADERBOARD_PER_PAGE rows of each category; ?category=<id>&page=<n> pages
    through one category. The CSV export has the whole ranking.
    """
    contest, round_ = _load_round()
    quorum = jury.quorum_of(round_)
    category_id = id_arg("category")
    page = page_arg()
    pages = []
    if round_ is not None:
        pages = ranking.leaderboard_pages(
            round_, quorum, LEADERBOARD_PER_PAGE, page if category_id else 1, category_id
        )
        if category_id is not None and not pages:
            abort(404)
    return render_template(
        "admin/leaderboard.html",
        round=round_,
        rounds=_rounds_of(contest),
        pages=pages,
        one_category=category_id is not None,
        page=page if category_id else 1,
        per_page=LEADERBOARD_PER_PAGE,
        quorum=quorum,
        thumbnails=moderation.thumbnail_keys([s.entry_id for p in pages for s in p.standings]),
    )


@bp.get("/export/leaderboard.csv")
def export_leaderboard():
    """The same ranking as CSV for Excel; every export is written to the audit log."""
    _, round_ = _load_round()
    if round_ is None:
        abort(404)
    quorum = jury.quorum_of(round_)
    body = exports.round_leaderboard_csv(round_, quorum)
    with write_transaction():  # an audited download: the one write a GET makes
        audit(g.user, "export-leaderboard", f"round:{round_.id}", None, {"format": "csv"})
    response = Response(body, mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=leaderboard-round-{round_.number}.csv"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/judging")
def show_judging():
    """Judging progress per round, and per judge with their leniency against the panel."""
    contest, round_ = _load_round()
    rounds = _rounds_of(contest)
    return render_template(
        "admin/judging.html",
        round=round_,
        rounds=rounds,
        progress=[ranking.round_progress(r, jury.quorum_of(r)) for r in rounds],
        judges=ranking.judge_stats(round_) if round_ else [],
    )


@bp.get("/rounds/<int:round_id>/close")
def show_close_round(round_id: int):
    """A preview of closing a round: who advances at ?threshold=, who is below the quorum."""
    round_ = db.get_or_404(Round, round_id)
    threshold = _share(request.args.get("threshold", str(DEFAULT_THRESHOLD)))
    form = CloseRoundForm(formdata=None)
    if threshold is None:
        form.form_errors.append(BAD_THRESHOLD)
        return _render_close(round_, form, DEFAULT_THRESHOLD, status=400)
    return _render_close(round_, form, threshold)


@bp.post("/rounds/<int:round_id>/close")
def close_round(round_id: int):
    """Close the round as previewed; after screening, open the next round with the advancing."""
    round_ = db.get_or_404(Round, round_id)
    form = CloseRoundForm()
    if not form.validate_on_submit():
        return _render_close(round_, form, DEFAULT_THRESHOLD, status=400)
    quorum = jury.quorum_of(round_)
    try:
        with write_transaction():
            round_ = db.get_or_404(Round, round_id)  # read again under the write lock
            rounds.close_round(
                round_, quorum, form.threshold.data, form.next_method.data, g.user, form.digest.data
            )
    except Refusal as why:
        show_on_form(form, why)
        return _render_close(round_, form, form.threshold.data, status=why.status)
    return redirect(url_for("admin.show_leaderboard", round=round_.id), 303)


def _render_close(round_: Round, form: CloseRoundForm, threshold: float, status: int = 200):
    preview = rounds.close_preview(round_, jury.quorum_of(round_), threshold)
    form.digest.data = preview.digest
    form.threshold.data = threshold
    return render_template(
        "admin/close_round.html", round=round_, preview=preview, form=form
    ), status


def _load_round() -> tuple[Contest, Round | None]:
    """The contest, and the round asked for by ?round=<id> (404 if it is not one of its own)."""
    contest = current_contest()
    round_id = id_arg("round")
    if "round" in request.args and round_id is None:
        abort(404)
    round_ = ranking.results_round(contest, round_id)
    if round_id is not None and round_ is None:
        abort(404)
    return contest, round_


def _rounds_of(contest: Contest) -> list[Round]:
    return list(
        db.session.scalars(
            select(Round).where(Round.contest_id == contest.id).order_by(Round.number)
        )
    )
