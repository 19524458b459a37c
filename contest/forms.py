"""The visitor's forms: what each field must hold, with messages a visitor understands."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError


def strip_whitespace(value: str | None) -> str | None:
    """A WTForms filter: what people type on phones often ends with a stray space."""
    return value.strip() if isinstance(value, str) else value


def normalise_phone(raw: str, region: str) -> str:
    """The number in E.164 (+821012345678), or ValueError with a message for the visitor."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(
            _l(
                "전화번호를 확인해 주세요. 예: 010-1234-5678,"
                " 해외 번호는 +44 20 7946 0958 처럼 국가번호와 함께."
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """A stored number as people write it: 010-1234-5678 at home, +44 20 7946 0958 abroad."""
    number = phonenumbers.parse(e164)
    if number.country_code == 82:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class PhoneField(TelField):
    """A phone number; after validation `data` holds it in E.164."""

    def pre_validate(self, form) -> None:
        if self.data:
            try:
                self.data = normalise_phone(self.data, current_app.config["PHONE_DEFAULT_REGION"])
            except ValueError as why:
                raise ValidationError(str(why)) from None


def _valid_email(form, field) -> None:
    try:
        address = validate_email(field.data, check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError(_("이메일 주소를 확인해 주세요. 예: name@example.com")) from None
    field.data = address.normalized.lower()


class EntryForm(FlaskForm):
    """An entry: the work, who sent it, and their consents."""

    title = StringField(
        _l("작품 제목"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("작품 제목을 입력해 주세요.")),
            Length(max=80, message=_l("제목은 80자 이내로 써 주세요.")),
        ],
    )
    description = TextAreaField(
        _l("작품 설명 (선택)"),
        filters=[strip_whitespace],
        validators=[Optional(), Length(max=1000, message=_l("설명은 1000자 이내로 써 주세요."))],
    )
    name = StringField(
        _l("이름"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("이름을 입력해 주세요.")),
            Length(max=50, message=_l("이름은 50자 이내로 써 주세요.")),
        ],
    )
    phone = PhoneField(
        _l("휴대전화"),
        filters=[strip_whitespace],
        validators=[DataRequired(message=_l("휴대전화 번호를 입력해 주세요."))],
    )
    email = EmailField(
        _l("이메일"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("이메일 주소를 입력해 주세요.")),
            Length(max=254, message=_l("이메일 주소가 너무 깁니다.")),
            _valid_email,
        ],
    )
    consent = BooleanField(
        _l("개인정보 수집·이용에 동의합니다"),
        validators=[DataRequired(message=_l("개인정보 수집·이용에 동의해야 응모할 수 있습니다."))],
    )
    consent_publish = BooleanField(_l("수상 시 이름(일부 가림)과 작품 공개에 동의합니다 (선택)"))
    under14 = BooleanField(_l("응모자가 만 14세 미만입니다"))
    guardian_name = StringField(
        _l("법정대리인 이름"),
        filters=[strip_whitespace],
        validators=[Length(max=50, message=_l("이름은 50자 이내로 써 주세요."))],
    )
    guardian_phone = PhoneField(_l("법정대리인 연락처"), filters=[strip_whitespace])
    guardian_consent = BooleanField(_l("법정대리인으로서 위 개인정보 수집·이용에 동의합니다"))
    media = FileField(
        _l("사진 또는 영상 파일"),
        validators=[FileRequired(message=_l("사진이나 영상 파일을 선택해 주세요."))],
    )

    # Personal-information law, art. 22-2: a child under 14 enters only with a legal guardian's
    # consent, so each guardian field is required exactly when `under14` is ticked.
    def validate_guardian_name(self, field) -> None:
        if self.under14.data and not field.data:
            raise ValidationError(_("만 14세 미만은 법정대리인 이름이 필요합니다."))

    def validate_guardian_phone(self, field) -> None:
        if self.under14.data and not field.data:
            raise ValidationError(_("만 14세 미만은 법정대리인 연락처가 필요합니다."))

    def validate_guardian_consent(self, field) -> None:
        if self.under14.data and not field.data:
            raise ValidationError(
                _("만 14세 미만은 법정대리인의 동의가 있어야 응모할 수 있습니다.")
            )


class WithdrawForm(FlaskForm):
    """Withdrawing an entry: nothing to fill in, the CSRF token is the point."""
