"""Admin page for a scoring round's calibration entries: which ones, each one's spread, and
each judge's offset from the rest of the panel on them."""

from __future__ import annotations

import re

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import Length, ValidationError

from contest.admin import bp
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Round
from contest.services import calibration
from contest.services.contests import current_contest

_ID = re.compile(r"#?(\d{1,18})")


class CalibrationForm(FlaskForm):
    """The calibration entries as their numbers, in the order judges get them."""

    entry_ids = StringField(
        _l("보정 작품 번호 (쉼표로 구분, 3–5개; 비우면 보정 없음)"), validators=[Length(max=200)]
    )

    def validate_entry_ids(self, field) -> None:
        parts = [p.strip() for p in re.split(r"[,\s]+", field.data or "") if p.strip()]
        if any(_ID.fullmatch(p) is None for p in parts):
            raise ValidationError(_("작품 번호만 쉼표로 나눠 써 주세요 (예: 12, 15, 31)."))

    def ids(self) -> list[int]:
        """The numbers typed, in order (checked by `validate_entry_ids`)."""
        return [int(m.group(1)) for m in _ID.finditer(self.entry_ids.data or "")]


@bp.get("/rounds/<int:round_id>/calibration")
def show_calibration(round_id: int):
    """The round's calibration entries with their spread, and each judge's offset."""
    round_ = _round_or_404(round_id)
    ids = ", ".join(str(i) for i in calibration.entry_ids(round_))
    return _render(round_, CalibrationForm(formdata=None, entry_ids=ids))


@bp.post("/rounds/<int:round_id>/calibration")
def update_calibration(round_id: int):
    """Choose the round's calibration entries (3 to 5), or none."""
    round_ = _round_or_404(round_id)
    form = CalibrationForm()
    if not form.validate_on_submit():
        return _render(round_, form, 400)
    try:
        with write_transaction():
            calibration.set_entries(_round_or_404(round_id), form.ids(), g.user)
    except Refusal as why:
        show_on_form(form, why)
        return _render(round_, form, why.status)
    flash(_("보정 작품을 저장했습니다."), "success")
    return redirect(url_for("admin.show_calibration", round_id=round_id), 303)


def _round_or_404(round_id: int) -> Round:
    contest = current_contest()
    query = select(Round).where(Round.id == round_id, Round.contest_id == contest.id)
    return db.first_or_404(query)


def _render(round_: Round, form: CalibrationForm, status: int = 200):
    return render_template(
        "admin/calibration.html",
        round=round_,
        form=form,
        spreads=calibration.spreads(round_),
        offsets=calibration.judge_offsets(round_),
        low=calibration.CALIBRATION_MIN,
        high=calibration.CALIBRATION_MAX,
    ), status
