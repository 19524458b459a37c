"""The organisers' forms: staff accounts, passwords, round methods and scoring criteria."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from contest.core.extensions import db
from contest.core.fields import strip_whitespace
from contest.models import User
from contest.services.rounds import METHODS, RANKING_MAX_ENTRIES, SLUG_MAX, WEIGHT_TOTAL

PASSWORD_MIN = 10  # accounts._check_password holds the same floor for every caller
ROLE_CHOICES = [SelectChoice("judge", _l("심사위원")), SelectChoice("admin", _l("운영자"))]
METHOD_CHOICES = [
    SelectChoice("scoring", _l("점수 심사 (기준별 1–10점)")),
    SelectChoice("screening", _l("선별 심사 (예/아니오)")),
    SelectChoice("ranking", _l("순위 심사 (결선: 심사위원마다 순서를 매겨 슐체 방식으로 집계)")),
]
CRITERIA_MAX_ROWS = 20
CRITERIA_BLANK_ROWS = 3


class ConfirmForm(FlaskForm):
    """A button that changes something: nothing to fill in, the CSRF token is the point."""


class NewPasswordForm(FlaskForm):
    """A password typed twice, or one made at random and shown once."""

    generate = BooleanField(_l("무작위 비밀번호 만들기 (다음 화면에 한 번만 보여 줍니다)"))
    password = PasswordField(_l("비밀번호"))
    confirm = PasswordField(_l("비밀번호 확인"))

    def validate_password(self, field) -> None:
        if self.generate.data:
            return
        if not field.data:
            raise ValidationError(_("비밀번호를 입력하거나 '무작위 비밀번호 만들기'를 고르세요."))
        if len(field.data) < PASSWORD_MIN:
            raise ValidationError(_("비밀번호는 %(min)s자 이상이어야 합니다.", min=PASSWORD_MIN))

    def validate_confirm(self, field) -> None:
        if not self.generate.data and field.data != self.password.data:
            raise ValidationError(_("두 비밀번호가 같지 않습니다."))


class StaffForm(NewPasswordForm):
    """A new judge or admin: one person, one account."""

    username = StringField(
        _l("아이디"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("아이디를 입력해 주세요.")),
            Length(max=50, message=_l("아이디는 50자 이내로 써 주세요.")),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                message=_l(
                    "아이디는 영문·숫자로 시작하고 영문·숫자·점(.)·밑줄(_)·하이픈(-)만 씁니다."
                ),
            ),
        ],
    )
    display_name = StringField(
        _l("이름 (화면과 기록에 보이는 이름)"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("이 계정을 쓸 사람의 이름을 입력해 주세요.")),
            Length(max=100, message=_l("이름은 100자 이내로 써 주세요.")),
        ],
    )
    role = SelectField(
        _l("역할"),
        choices=ROLE_CHOICES,
        default="judge",
        validate_choice=False,  # AnyOf says it in Korean
        validators=[
            AnyOf(["judge", "admin"], message=_l("역할은 심사위원이나 운영자 중 하나입니다."))
        ],
    )

    def validate_username(self, field) -> None:
        # Case-insensitive, so "Kim" and "kim" cannot become two people's look-alike accounts.
        taken = select(User.id).where(func.lower(User.username) == field.data.lower())
        if db.session.scalar(taken) is not None:
            raise ValidationError(
                _(
                    "'%(username)s' 아이디는 이미 있습니다."
                    " 계정은 한 사람에 하나씩이며 함께 쓰지 않습니다.",
                    username=field.data,
                )
            )


class MethodForm(FlaskForm):
    """How a round is judged."""

    method = SelectField(
        _l("심사 방식"),
        choices=METHOD_CHOICES,
        validate_choice=False,  # AnyOf says it in Korean
        validators=[
            AnyOf(
                list(METHODS),
                message=_l("심사 방식은 점수 심사, 선별 심사, 순위 심사 중 하나입니다."),
            )
        ],
    )
    # A ranking round only: judges order just their top N, the rest tie below (empty: all).
    rank_top = IntegerField(
        _l("상위 몇 개까지 순위를 매길지 (비우면 전부)"),
        validators=[
            Optional(),
            NumberRange(min=1, max=RANKING_MAX_ENTRIES, message=_l("1에서 100 사이의 수입니다.")),
        ],
    )


class CriterionRowForm(Form):
    """One criterion of a scoring round; a row left blank (or marked for removal) is ignored."""

    slug = StringField(
        _l("코드"),
        filters=[strip_whitespace],
        validators=[
            Optional(),
            Length(max=SLUG_MAX, message=_l("코드는 %(max)s자 이내로 써 주세요.", max=SLUG_MAX)),
            Regexp(
                r"^[a-z][a-z0-9_]*$",
                message=_l("코드는 영문 소문자로 시작하고 영문 소문자·숫자·밑줄(_)만 씁니다."),
            ),
        ],
    )
    name = StringField(
        _l("이름"),
        filters=[strip_whitespace],
        validators=[Optional(), Length(max=100, message=_l("이름은 100자 이내로 써 주세요."))],
    )
    weight = IntegerField(
        _l("가중치 (%)"),
        invalid_value_message=_l("가중치는 정수로 써 주세요."),
        validators=[
            Optional(),
            NumberRange(min=1, max=100, message=_l("가중치는 1에서 100 사이입니다.")),
        ],
    )
    remove = BooleanField(_l("삭제"))

    def validate(self, extra_validators=None) -> bool:
        if self.remove.data:
            return True  # on its way out: whatever it holds does not matter
        return super().validate(extra_validators)

    def is_blank(self) -> bool:
        """Nothing typed in this row."""
        typed_weight = (self.weight.raw_data or [""])[0].strip()
        return not (self.slug.data or self.name.data or typed_weight)


class CriteriaForm(FlaskForm):
    """A scoring round's criteria: weights are percents that sum to exactly 100."""

    rows = FieldList(FormField(CriterionRowForm), min_entries=1, max_entries=CRITERIA_MAX_ROWS)

    @classmethod
    def for_round(cls, round_) -> CriteriaForm:
        """The round's criteria, then a few blank rows to add more."""
        form = cls(
            data={
                "rows": [
                    {"slug": c.slug, "name": c.name, "weight": c.weight} for c in round_.criteria
                ]
            }
        )
        for _blank in range(min(CRITERIA_BLANK_ROWS, CRITERIA_MAX_ROWS - len(form.rows))):
            form.rows.append_entry()
        return form

    def kept_rows(self) -> list[tuple[str, str, int]]:
        """(slug, name, weight) of the rows filled in and not marked for removal, in order."""
        return [
            (row.slug.data, row.name.data, row.weight.data)
            for row in (entry.form for entry in self.rows)
            if not row.remove.data and not row.is_blank()
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        seen: set[str] = set()
        for row in (entry.form for entry in self.rows):
            if row.remove.data or row.is_blank():
                continue
            for field, message in (
                (row.slug, _("코드를 입력해 주세요.")),
                (row.name, _("이름을 입력해 주세요.")),
                (row.weight, _("가중치를 입력해 주세요.")),
            ):
                if field.data in (None, "") and not field.errors:
                    field.errors = [*field.errors, message]
                    valid = False
            if row.slug.data in seen:
                row.slug.errors = [
                    *row.slug.errors,
                    _("위에서 이미 쓴 코드입니다. 코드는 겹칠 수 없습니다."),
                ]
                valid = False
            seen.add(row.slug.data)
        if not valid:
            return False
        kept = self.kept_rows()
        if not kept:
            self.form_errors.append(_("기준이 하나 이상 있어야 합니다."))
            return False
        total = sum(weight for _, _, weight in kept)
        if total != WEIGHT_TOTAL:
            self.form_errors.append(
                _(
                    "가중치의 합이 정확히 %(required)s이어야 합니다. 지금은 %(total)s입니다.",
                    required=WEIGHT_TOTAL,
                    total=total,
                )
            )
            return False
        return True
