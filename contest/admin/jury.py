"""Admin page for a round's jury mid-round: the quorum (previewed before it is changed), the
deadline judges are measured against, and each judge's categories and reminder address.

Adding and disabling judges stays on the staff page (`admin/staff.py`); this page links there.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, DateTimeLocalField, EmailField, IntegerField, SelectMultipleField
from wtforms.validators import InputRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from contest.admin import bp
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.core.i18n import translate_name
from contest.core.refusal import Refusal
from contest.models import Category, Round, User, utcnow
from contest.services import jury, schedule
from contest.services.contests import current_contest

MOMENT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]  # what <input type=datetime-local> sends


class QuorumForm(FlaskForm):
    """A new quorum; the first post previews its effect, the second (confirmed) saves it."""

    quorum = IntegerField(
        _l("정족수 (작품마다 필요한 점수 수)"),
        invalid_value_message=_l("정족수는 정수로 써 주세요."),
        validators=[
            InputRequired(message=_l("정족수를 입력해 주세요.")),
            NumberRange(
                min=1,
                max=jury.QUORUM_MAX,
                message=_l("정족수는 1에서 %(max)s 사이여야 합니다.", max=jury.QUORUM_MAX),
            ),
        ],
    )
    confirmed = BooleanField()


class DeadlineForm(FlaskForm):
    """When the round's judging should be done, in Seoul time (blank: no deadline)."""

    deadline = DateTimeLocalField(
        _l("심사 마감 (서울 시각)"),
        format=MOMENT_FORMATS,
        validators=[Optional()],
    )


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (WTForms' select-multiple, drawn as a list)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class JudgeForm(FlaskForm):
    """One judge's categories in the round (none ticked: every category) and e-mail."""

    categories = CheckboxesField(_l("심사할 부문 (고르지 않으면 모든 부문)"), coerce=int)
    email = EmailField(_l("알림 받을 이메일"), validators=[Optional()])


@bp.get("/rounds/<int:round_id>/jury")
def show_jury(round_id: int):
    """The round's jury: quorum, deadline, and each judge's categories and reminder address."""
    round_ = _round_or_404(round_id)
    return _render(round_)


@bp.post("/rounds/<int:round_id>/quorum")
def update_quorum(round_id: int):
    """Preview a new quorum's effect (the work it adds, the hours at the pace); save it once
    confirmed."""
    round_ = _round_or_404(round_id)
    form = QuorumForm()
    if not form.validate_on_submit():
        return _render(round_, quorum_form=form, status=400)
    if not form.confirmed.data:
        effect = jury.quorum_effect(round_, form.quorum.data, utcnow())
        return _render(round_, quorum_form=form, effect=effect)
    try:
        with write_transaction():
            jury.set_quorum(_round_or_404(round_id), form.quorum.data, g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _render(round_, quorum_form=form, status=why.status)
    flash(_("정족수를 %(quorum)s(으)로 바꿨습니다.", quorum=form.quorum.data), "success")
    return redirect(url_for("admin.show_jury", round_id=round_id), 303)


@bp.post("/rounds/<int:round_id>/deadline")
def update_deadline(round_id: int):
    """Set or clear the round's judging deadline."""
    round_ = _round_or_404(round_id)
    form = DeadlineForm()
    if not form.validate_on_submit():
        return _render(round_, deadline_form=form, status=400)
    moment = form.deadline.data.replace(tzinfo=SEOUL) if form.deadline.data else None
    with write_transaction():
        jury.set_deadline(_round_or_404(round_id), moment, g.user)
    flash(_("심사 마감을 저장했습니다."), "success")
    return redirect(url_for("admin.show_jury", round_id=round_id), 303)


@bp.post("/rounds/<int:round_id>/jury/<int:user_id>")
def update_judge(round_id: int, user_id: int):
    """Limit a judge to some categories in the round, and set where their reminders go."""
    round_ = _round_or_404(round_id)
    judge = db.get_or_404(User, user_id)
    form = _judge_form(round_, judge)
    if not form.validate_on_submit():
        return _render(round_, judge_forms={judge.id: form}, status=400)
    try:
        with write_transaction():
            round_ = _round_or_404(round_id)
            jury.set_categories(round_, judge, form.categories.data or [], g.user)
            jury.set_email(judge, form.email.data or "", g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _render(round_, judge_forms={judge.id: form}, status=why.status)
    name = judge.display_name or judge.username
    flash(_("'%(name)s' 심사위원의 설정을 저장했습니다.", name=name), "success")
    return redirect(url_for("admin.show_jury", round_id=round_id), 303)


def _round_or_404(round_id: int) -> Round:
    contest = current_contest()
    query = select(Round).where(Round.id == round_id, Round.contest_id == contest.id)
    return db.first_or_404(query)


def _categories(round_: Round) -> list[tuple[int, str]]:
    query = (
        select(Category)
        .where(Category.contest_id == round_.contest_id)
        .order_by(Category.position, Category.id)
    )
    return [(c.id, translate_name(c.name)) for c in db.session.scalars(query)]


def _judge_form(round_: Round, judge: User, filled: bool = False) -> JudgeForm:
    """The judge's row form: what was posted, or (filled) what is stored."""
    if filled:
        form = JudgeForm(
            formdata=None,
            prefix=f"judge-{judge.id}",
            categories=jury.categories_of(round_, judge.id),
            email=judge.email or "",
        )
    else:
        form = JudgeForm(prefix=f"judge-{judge.id}")
    form.categories.choices = _categories(round_)
    return form


def _render(
    round_: Round,
    quorum_form: QuorumForm | None = None,
    deadline_form: DeadlineForm | None = None,
    judge_forms: dict[int, JudgeForm] | None = None,
    effect: jury.QuorumEffect | None = None,
    status: int = 200,
):
    judges = jury.judges()
    forms = {j.id: _judge_form(round_, j, filled=True) for j in judges} | (judge_forms or {})
    if quorum_form is None:
        quorum_form = QuorumForm(formdata=None, quorum=jury.quorum_of(round_))
    if deadline_form is None:
        local = round_.deadline.astimezone(SEOUL).replace(tzinfo=None) if round_.deadline else None
        deadline_form = DeadlineForm(formdata=None, deadline=local)
    now = utcnow()
    return render_template(
        "admin/jury.html",
        round=round_,
        quorum=jury.quorum_of(round_),
        quorum_form=quorum_form,
        deadline_form=deadline_form,
        effect=effect,
        hours=jury.hours_text(effect.hours) if effect else None,
        judges=judges,
        judge_forms=forms,
        pace=jury.pace(round_, now),
        behind={b.judge_id: b for b in schedule.behind_schedule(round_, now)},
    ), status
