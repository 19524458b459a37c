"""The contest's settings: texts in Korean and English, dates, window, categories, awards, links.

Times are typed and shown in Seoul time; the service (`contest_settings`) holds the rules,
which the `flask contest set` command shares, and audits each change (old → new).
"""

from __future__ import annotations

from datetime import datetime

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from contest.admin import bp
from contest.admin.forms import ConfirmForm
from contest.core.database import write_transaction
from contest.core.fields import strip_whitespace
from contest.core.formatting import SEOUL
from contest.core.refusal import Refusal
from contest.models import Contest, utcnow
from contest.services import contest_settings
from contest.services.contest_settings import ContestSettings
from contest.services.contests import current_contest, public_url

MOMENT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]  # what <input type=datetime-local> sends


class TierForm(Form):
    """One award tier of a category: its names and how many it gives."""

    name = StringField(_l("상 이름"), filters=[strip_whitespace])
    name_en = StringField(_l("상 이름 (영어)"), filters=[strip_whitespace])
    count = IntegerField(
        _l("수상작 수"),
        invalid_value_message=_l("상의 수는 0 이상의 정수로 써 주세요."),
        validators=[
            InputRequired(message=_l("상의 수를 입력해 주세요 (주지 않는 상은 0).")),
            NumberRange(min=0, message=_l("상의 수는 0 이상이어야 합니다.")),
        ],
    )


class CategoryForm(Form):
    """A category (photo or video): on or off, its names, its award tiers."""

    enabled = BooleanField(_l("이 부문의 응모 받기"))
    name = StringField(_l("부문 이름"), filters=[strip_whitespace])
    name_en = StringField(_l("부문 이름 (영어)"), filters=[strip_whitespace])
    tiers = FieldList(FormField(TierForm), max_entries=20)


class ContestSettingsForm(FlaskForm):
    """Every contest setting on one page."""

    title = StringField(_l("공모전 이름"), filters=[strip_whitespace])
    title_en = StringField(_l("공모전 이름 (영어)"), filters=[strip_whitespace])
    description = TextAreaField(_l("소개"))
    description_en = TextAreaField(_l("소개 (영어)"))
    venue = StringField(_l("행사 장소"), filters=[strip_whitespace])
    venue_en = StringField(_l("행사 장소 (영어)"), filters=[strip_whitespace])
    fair_starts_on = DateField(
        _l("행사 첫날"), validators=[InputRequired(message=_l("날짜를 입력해 주세요."))]
    )
    fair_ends_on = DateField(
        _l("행사 마지막 날"), validators=[InputRequired(message=_l("날짜를 입력해 주세요."))]
    )
    opens_at = DateTimeLocalField(
        _l("응모 시작 (서울 시각)"),
        format=MOMENT_FORMATS,
        validators=[InputRequired(message=_l("날짜와 시각을 입력해 주세요."))],
    )
    closes_at = DateTimeLocalField(
        _l("응모 마감 (서울 시각)"),
        format=MOMENT_FORMATS,
        validators=[InputRequired(message=_l("날짜와 시각을 입력해 주세요."))],
    )
    voting_opens_at = DateTimeLocalField(
        _l("인기상 투표 시작 (서울 시각)"), format=MOMENT_FORMATS, validators=[Optional()]
    )
    voting_closes_at = DateTimeLocalField(
        _l("인기상 투표 마감 (서울 시각)"), format=MOMENT_FORMATS, validators=[Optional()]
    )
    rules = TextAreaField(_l("응모 규칙 (한 줄에 하나)"))
    rules_en = TextAreaField(_l("응모 규칙 (영어, 한 줄에 하나)"))
    prizes = TextAreaField(_l("시상 내용"))
    prizes_en = TextAreaField(_l("시상 내용 (영어)"))
    max_entries_per_entrant = IntegerField(
        _l("한 사람당 응모 수"),
        invalid_value_message=_l("한 사람당 응모 수는 정수로 써 주세요."),
        validators=[
            Optional(),
            NumberRange(min=1, message=_l("한 사람당 응모 수는 1 이상이어야 합니다.")),
        ],
    )
    public_url = StringField(
        _l("공개 주소"), filters=[strip_whitespace], validators=[Length(max=300)]
    )
    categories = FieldList(FormField(CategoryForm), max_entries=len(contest_settings.KINDS))

    @classmethod
    def of(cls, settings: ContestSettings) -> ContestSettingsForm:
        """The form filled with the settings as they are (moments in Seoul time)."""
        data = {name: getattr(settings, name) for name in contest_settings.TEXTS}
        data |= {
            "fair_starts_on": settings.fair_starts_on,
            "fair_ends_on": settings.fair_ends_on,
            "opens_at": _seoul(settings.opens_at),
            "closes_at": _seoul(settings.closes_at),
            "voting_opens_at": _seoul(settings.voting_opens_at),
            "voting_closes_at": _seoul(settings.voting_closes_at),
            "max_entries_per_entrant": settings.max_entries_per_entrant,
            "public_url": settings.public_url or "",
            "categories": [
                {
                    "enabled": c.enabled,
                    "name": c.name,
                    "name_en": c.name_en,
                    "tiers": [vars(t) for t in c.tiers],
                }
                for c in settings.categories
            ],
        }
        return cls(data=data)

    def settings(self, current: ContestSettings) -> ContestSettings:
        """The typed values as plain settings. Which categories and tiers there are is the
        server's (`current`): a posted row is matched to them by its place."""
        categories = []
        for i, category in enumerate(current.categories):
            row = self.categories[i].form if i < len(self.categories) else None
            tiers = []
            for j, tier in enumerate(category.tiers):
                typed = row.tiers[j].form if row and j < len(row.tiers) else None
                tiers.append(
                    contest_settings.TierSettings(
                        tier.slug,
                        typed.name.data or "" if typed else tier.name,
                        typed.name_en.data or "" if typed else tier.name_en,
                        typed.count.data if typed else tier.count,
                    )
                )
            categories.append(
                contest_settings.CategorySettings(
                    kind=category.kind,
                    enabled=row.enabled.data if row else category.enabled,
                    name=row.name.data or "" if row else category.name,
                    name_en=row.name_en.data or "" if row else category.name_en,
                    tiers=tiers,
                )
            )
        return ContestSettings(
            **{name: getattr(self, name).data or "" for name in contest_settings.TEXTS},
            fair_starts_on=self.fair_starts_on.data,
            fair_ends_on=self.fair_ends_on.data,
            opens_at=self.opens_at.data.replace(tzinfo=SEOUL),
            closes_at=self.closes_at.data.replace(tzinfo=SEOUL),
            voting_opens_at=_aware(self.voting_opens_at.data),
            voting_closes_at=_aware(self.voting_closes_at.data),
            max_entries_per_entrant=self.max_entries_per_entrant.data,
            public_url=self.public_url.data or None,
            categories=categories,
        )


@bp.get("/contest")
def show_contest_settings():
    """The contest's settings, to edit."""
    contest = current_contest()
    return _render(contest, ContestSettingsForm.of(contest_settings.settings_of(contest)))


@bp.post("/contest")
def update_contest_settings():
    """Save the contest's settings: all of them, or (on any refusal) none."""
    contest = current_contest()
    form = ContestSettingsForm()
    if not form.validate_on_submit():
        return _render(contest, form, 400)
    try:
        with write_transaction():
            contest = current_contest()
            wanted = form.settings(contest_settings.settings_of(contest))
            changed = contest_settings.update(contest, wanted, g.user)
    except Refusal as why:
        _show_refusal(form, why)
        return _render(current_contest(), form, why.status)
    flash(
        _("설정을 저장했습니다.") if changed else _("바뀐 설정이 없습니다."),
        "success",
    )
    return redirect(url_for("admin.show_contest_settings"), 303)


@bp.post("/contest/close")
def close_submissions():
    """End the submission window now (the "close submissions now" button)."""
    if not ConfirmForm().validate_on_submit():
        flash(_("요청을 처리할 수 없습니다. 페이지를 새로 고쳐 주세요."), "error")
        return redirect(url_for("admin.show_contest_settings"), 303)
    try:
        with write_transaction():
            contest_settings.close_submissions(current_contest(), utcnow(), g.user)
    except Refusal as why:
        flash(why.message, "error")
        return redirect(url_for("admin.show_contest_settings"), 303)
    flash(_("응모를 마감했습니다. 지금부터 응모를 받지 않습니다."), "success")
    return redirect(url_for("admin.show_contest_settings"), 303)


def _render(contest: Contest, form: ContestSettingsForm, status: int = 200):
    return render_template(
        "admin/settings.html",
        contest=contest,
        form=form,
        close_form=ConfirmForm(),
        public_url=public_url(contest),
        kinds=[("photo", _("사진")), ("video", _("영상"))],
        now=utcnow(),
    ), status


def _show_refusal(form: ContestSettingsForm, refusal: Refusal) -> None:
    """A refusal next to its field, nested ones (categories-0-tiers-1-count) included."""
    field = _find_field(form, refusal.field) if refusal.field else None
    if field is None:
        form.form_errors.append(refusal.message)
    else:
        # As text: a FieldList's errors are lists per row, and the page shows only the texts.
        field.errors = [*(e for e in field.errors if isinstance(e, str)), str(refusal.message)]


def _find_field(container, name: str):
    for field in container:
        if field.name == name:
            return field
        if field.type == "FieldList":
            for entry in field:
                found = _find_field(entry.form, name) if entry.type == "FormField" else None
                if found is not None:
                    return found
    return None


def _seoul(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(SEOUL).replace(tzinfo=None)


def _aware(typed: datetime | None) -> datetime | None:
    """A moment typed in Seoul time, or None for an empty field."""
    return None if typed is None else typed.replace(tzinfo=SEOUL)
