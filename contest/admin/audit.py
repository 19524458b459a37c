"""The audit page: who did what and when, newest first, filtered by user, action, target, dates."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, select
from wtforms import DateField, StringField
from wtforms.validators import Length, Optional, ValidationError

from contest.admin import bp
from contest.core.arguments import page_arg
from contest.core.extensions import db
from contest.core.fields import strip_whitespace
from contest.core.formatting import SEOUL
from contest.models import AuditLog, User

PER_PAGE = 50


class KoreanDateField(DateField):
    """A YYYY-MM-DD date, refused with a message in Korean."""

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_("날짜는 2026-12-03처럼 써 주세요.")) from None


class AuditFilterForm(FlaskForm):
    """The audit page's filters, from the query string (a GET: no CSRF token)."""

    class Meta:
        csrf = False

    user = StringField(
        _l("사용자 (아이디)"), filters=[strip_whitespace], validators=[Optional(), Length(max=50)]
    )
    action = StringField(
        _l("동작"), filters=[strip_whitespace], validators=[Optional(), Length(max=50)]
    )
    target = StringField(
        _l("대상 (앞부분, 예: entry:12)"),
        filters=[strip_whitespace],
        validators=[Optional(), Length(max=100)],
    )
    since = KoreanDateField(_l("시작일 (한국 날짜)"), validators=[Optional()])
    until = KoreanDateField(_l("종료일 (한국 날짜, 포함)"), validators=[Optional()])

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("종료일이 시작일보다 앞설 수 없습니다."))


@bp.get("/audit")
def show_audit():
    """The audit log, newest first, 50 a page, with the filters kept across pages."""
    form = AuditFilterForm(formdata=request.args)
    if not form.validate():
        return _render(form, None, {}), 400
    page = db.paginate(audit_query(form), page=page_arg(), per_page=PER_PAGE, max_per_page=PER_PAGE)
    return _render(form, page, _users_of(page.items))


def audit_query(form: AuditFilterForm) -> Select:
    """The audit rows the filters ask for, newest first."""
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if form.user.data:
        named = select(User.id).where(func.lower(User.username) == form.user.data.lower())
        query = query.where(AuditLog.user_id.in_(named))
    if form.action.data:
        query = query.where(AuditLog.action == form.action.data)
    if form.target.data:
        query = query.where(AuditLog.target.startswith(form.target.data, autoescape=True))
    if form.since.data:
        query = query.where(AuditLog.at >= seoul_midnight(form.since.data))
    if form.until.data:
        query = query.where(AuditLog.at < seoul_midnight(form.until.data + timedelta(days=1)))
    return query


def seoul_midnight(day: date) -> datetime:
    """The moment a day begins in Seoul (the fair's dates are Korean dates)."""
    return datetime.combine(day, time(0), tzinfo=SEOUL)


def compact(value) -> str:
    """A value before or after a change as short JSON: {"status":"rejected"}; — for none."""
    if value is None:
        return "—"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _users_of(rows: list[AuditLog]) -> dict[int, User]:
    ids = {row.user_id for row in rows if row.user_id is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def _render(form: AuditFilterForm, page, users: dict[int, User]) -> str:
    actions = db.session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action))
    filters = {}
    if page is not None:
        # Dates go back as typed (YYYY-MM-DD) so each page link repeats the same search.
        filters = {name: field._value() for name, field in form._fields.items() if field.data}
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        users=users,
        actions=list(actions),
        filters=filters,
        compact=compact,
    )
