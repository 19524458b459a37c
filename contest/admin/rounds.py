"""Admin pages for judging rounds: the list, scoring criteria, reopening, switching the method."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from contest.admin import bp
from contest.admin.forms import METHOD_CHOICES, ConfirmForm, CriteriaForm, MethodForm
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db
from contest.core.i18n import translate_name
from contest.core.refusal import Refusal
from contest.models import Round
from contest.services import rounds
from contest.services.contests import current_contest


@bp.get("/rounds")
def list_rounds():
    """The contest's rounds, with what each holds and how far judging went."""
    return _render_rounds()


@bp.get("/rounds/<int:round_id>/criteria")
def show_criteria(round_id: int):
    """A scoring round's criteria, editable until the first score arrives."""
    round_ = _round_or_404(round_id)
    return _render_criteria(round_, CriteriaForm.for_round(round_))


@bp.post("/rounds/<int:round_id>/criteria")
def update_criteria(round_id: int):
    """Replace a round's criteria: all of the change, or (on any error) none of it."""
    round_ = _round_or_404(round_id)
    form = CriteriaForm()
    if rounds.criteria_lock(round_):
        return _render_criteria(round_, form, 409)
    if not form.validate_on_submit():
        return _render_criteria(round_, form, 400)
    try:
        # The lock is checked again inside: no score can slip in before the commit.
        with write_transaction():
            rounds.replace_criteria(round_, form.kept_rows(), g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _render_criteria(round_, form, why.status)
    flash(
        _("'%(round)s'의 채점 기준을 저장했습니다.", round=translate_name(round_.name)), "success"
    )
    return redirect(url_for("admin.show_criteria", round_id=round_.id), 303)


@bp.post("/rounds/<int:round_id>/reopen")
def reopen_round(round_id: int):
    """Open a closed round again, when no other round is open."""
    if not ConfirmForm().validate_on_submit():
        return _render_rounds(_("요청을 처리할 수 없습니다. 페이지를 새로 고쳐 주세요."), 400)
    round_ = _round_or_404(round_id)
    try:
        with write_transaction():  # the one-open-round check and the change together
            rounds.reopen_round(round_, g.user)
    except Refusal as why:
        return _render_rounds(why.message, why.status)
    flash(_("'%(round)s' 심사를 다시 열었습니다.", round=translate_name(round_.name)), "success")
    return redirect(url_for("admin.list_rounds"), 303)


@bp.post("/rounds/<int:round_id>/method")
def switch_method(round_id: int):
    """Switch a round without scores between screening (yes/no), scoring and ranking."""
    form = MethodForm()
    if not form.validate_on_submit():
        message = " ".join(str(error) for error in form.method.errors + form.rank_top.errors)
        return _render_rounds(message or _("심사 방식을 골라 주세요."), 400)
    round_ = _round_or_404(round_id)
    rank_top = form.rank_top.data if form.method.data == "ranking" else None
    try:
        with write_transaction():
            rounds.set_method(round_, form.method.data, g.user, rank_top)
    except Refusal as why:
        return _render_rounds(why.message, why.status)
    flash(
        _("'%(round)s'의 심사 방식을 저장했습니다.", round=translate_name(round_.name)), "success"
    )
    return redirect(url_for("admin.list_rounds"), 303)


def _round_or_404(round_id: int) -> Round:
    contest = current_contest()
    query = select(Round).where(Round.id == round_id, Round.contest_id == contest.id)
    return db.first_or_404(query)


def _render_rounds(error: str | None = None, status: int = 200):
    contest = current_contest()
    query = select(Round).where(Round.contest_id == contest.id).order_by(Round.number)
    rows = [
        (round_, rounds.entry_count(round_), rounds.score_count(round_), rounds.has_scores(round_))
        for round_ in db.session.scalars(query)
    ]
    page = render_template(
        "admin/rounds.html",
        rows=rows,
        form=ConfirmForm(),
        method_choices=METHOD_CHOICES,
        error=error,
    )
    return page, status


def _render_criteria(round_: Round, form: CriteriaForm, status: int = 200):
    page = render_template(
        "admin/criteria.html", round=round_, form=form, locked=rounds.criteria_lock(round_)
    )
    return page, status
