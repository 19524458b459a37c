"""Admin pages for the awards: proposing them, moving them by hand, publishing the results."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from contest.admin import bp
from contest.admin.forms import ConfirmForm
from contest.core import jobs
from contest.core.database import write_transaction
from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Award, Category, utcnow
from contest.services import awards, jury, receipts
from contest.services.contests import current_contest

BAD_FORM = _l("요청을 처리할 수 없습니다. 페이지를 새로 고쳐 주세요.")


class RemoveAwardForm(FlaskForm):
    """Take an award back: why, for the audit log."""

    reason = StringField(
        _l("사유"), validators=[DataRequired(_l("사유를 적어 주세요.")), Length(max=500)]
    )


class PickedReceiptField(StringField):
    """A receipt code picked from the leaderboard's list or typed in: the page sends both
    controls under one name, `receipt`, so the one filled in is taken (and a lone value, as
    any client posted before the list existed, works as ever)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        """Keep the one code given; two different ones are refused rather than guessed at."""
        given = list(dict.fromkeys(receipts.clean(v) for v in valuelist if v.strip()))
        self.data = given[0] if given else ""
        if len(given) > 1:  # (DataRequired would clear this error were the data left empty)
            raise ValueError(_l("순위표에서 고른 응모작과 적은 접수번호 가운데 하나만 주세요."))


class GiveAwardForm(RemoveAwardForm):
    """Give an award to another entry, picked from the leaderboard or named by its receipt code."""

    receipt = PickedReceiptField(
        _l("접수번호"),
        validators=[
            DataRequired(_l("받을 응모작을 고르거나 접수번호를 적어 주세요.")),
            Length(max=40),
        ],
    )


class AddAwardForm(GiveAwardForm):
    """Give a tier of a category to an entry (e.g. after taking one back)."""

    category_id = HiddenField(validators=[DataRequired()])
    tier = StringField(_l("상"), validators=[DataRequired()])


@bp.get("/awards")
def show_awards():
    """The awards per category and tier, with each winner's figures and the forms to move them."""
    return _render_awards()


@bp.get("/awards/propose")
def confirm_propose_awards():
    """Before proposing: what the leaderboard would give now, and what to check first."""
    contest = current_contest()
    try:
        summary = awards.proposal_summary(contest, jury.results_quorum(current_contest()))
    except Refusal as why:
        return _render_awards(why.message, why.status)
    return _render_confirm("propose", summary)


@bp.get("/awards/publish")
def confirm_publish_awards():
    """Before publishing: the awards as they stand, and what to check first."""
    contest = current_contest()
    if contest.results_published_at is not None:
        return redirect(url_for("admin.show_awards"), 303)
    summary = awards.publication_summary(contest, jury.results_quorum(current_contest()))
    return _render_confirm("publish", summary)


@bp.post("/awards/propose")
def propose_awards():
    """Replace the awards by the tiers given down each category's leaderboard."""
    quorum = jury.results_quorum(current_contest())
    return _apply(
        ConfirmForm(),
        lambda: awards.propose(current_contest(), quorum, g.user),
        _("순위표에 따라 수상작을 새로 정했습니다."),
    )


@bp.post("/awards/<int:award_id>/give")
def give_award(award_id: int):
    """Give an award to another entry of its category, with a reason."""
    form = GiveAwardForm()
    return _apply(
        form,
        lambda: awards.give(_award_or_404(award_id), form.receipt.data, form.reason.data, g.user),
        _("상을 옮겼습니다."),
    )


@bp.post("/awards/<int:award_id>/remove")
def remove_award(award_id: int):
    """Take an award back, with a reason."""
    form = RemoveAwardForm()
    return _apply(
        form,
        lambda: awards.remove(_award_or_404(award_id), form.reason.data, g.user),
        _("상을 취소했습니다."),
    )


@bp.post("/awards/add")
def add_award():
    """Give a tier of a category to an entry, with a reason."""
    form = AddAwardForm()
    return _apply(
        form,
        lambda: awards.add(
            _category_or_404(form.category_id.data),
            form.tier.data,
            form.receipt.data,
            form.reason.data,
            g.user,
        ),
        _("상을 주었습니다."),
    )


@bp.post("/awards/peoples-choice")
def propose_peoples_choice():
    """Give the people's choice (인기상) from the vote counts, once voting has closed."""
    return _apply(
        ConfirmForm(),
        lambda: awards.propose_peoples_choice(current_contest(), utcnow(), g.user),
        _("투표 결과에 따라 인기상을 정했습니다."),
    )


@bp.post("/awards/publish")
def publish_awards():
    """Announce the results: /winners shows the awards from now on."""
    return _apply(
        ConfirmForm(),
        lambda: awards.publish(current_contest(), g.user),
        _("결과를 발표했습니다. 수상작 페이지가 공개되었습니다."),
        # Once published for good: each winner is told once (publishing again sends nothing).
        then=lambda: jobs.enqueue_mail("mail_winners", current_contest().id),
    )


@bp.post("/awards/unpublish")
def unpublish_awards():
    """Withdraw the announcement (to correct the awards, for example)."""
    return _apply(
        ConfirmForm(),
        lambda: awards.unpublish(current_contest(), g.user),
        _("발표를 취소했습니다. 수상작 페이지는 다시 '발표 전'으로 보입니다."),
    )


def _apply(
    form: FlaskForm,
    change: Callable[[], object],
    done: str,
    then: Callable[[], object] | None = None,
):
    """Validate, make the change in one write transaction, commit, run `then` (what waits on
    the commit, such as queueing mail), back to the awards page."""
    if not form.validate_on_submit():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return _render_awards(errors[0] if errors else BAD_FORM, 400)
    try:
        with write_transaction():
            change()
    except Refusal as why:
        return _render_awards(why.message, why.status)
    if then is not None:
        then()
    flash(done, "success")
    return redirect(url_for("admin.show_awards"), 303)


def _render_awards(error: str | None = None, status: int = 200):
    contest = current_contest()
    return render_template(
        "admin/awards.html",
        contest=contest,
        groups=awards.award_rows(contest, jury.results_quorum(current_contest())),
        tiers_of={c.id: awards.tiers(c) for c in contest.categories},
        candidates=awards.candidates(contest, jury.results_quorum(current_contest())),
        tier_by_slug={
            c.id: {t.slug: t for t in [*awards.tiers(c), awards.peoples_choice_tier(c)]}
            for c in contest.categories
        },
        error=error,
    ), status


def _render_confirm(action: str, summary: awards.Summary):
    return render_template(
        "admin/awards_confirm.html",
        action=action,
        summary=summary,
        contest=current_contest(),
        quorum=jury.results_quorum(current_contest()),
    )


def _award_or_404(award_id: int) -> Award:
    award = db.get_or_404(Award, award_id)
    if award.contest_id != current_contest().id:
        abort(404)
    return award


def _category_or_404(raw: str) -> Category:
    category = db.session.get(Category, int(raw)) if raw.isdigit() else None
    if category is None or category.contest_id != current_contest().id:
        abort(404)
    return category
