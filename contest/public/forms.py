"""The visitor's forms: what each field must hold, with messages a visitor understands."""

from __future__ import annotations

import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email
from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError

from contest.core.fields import PhoneField, strip_whitespace
from contest.core.phones import normalise_phone


def _valid_email(form, field) -> None:
    try:
        address = validate_email(field.data, check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError(_("이메일 주소를 확인해 주세요. 예: name@example.com")) from None
    field.data = address.normalized.lower()


def _title_field() -> StringField:
    return StringField(
        _l("작품 제목"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("작품 제목을 입력해 주세요.")),
            Length(max=80, message=_l("제목은 80자 이내로 써 주세요.")),
        ],
    )


def _description_field() -> TextAreaField:
    return TextAreaField(
        _l("작품 설명 (선택)"),
        filters=[strip_whitespace],
        validators=[Optional(), Length(max=1000, message=_l("설명은 1000자 이내로 써 주세요."))],
    )


_DECLARATION_REQUIRED = _l("직접 찍었고 AI로 만들지 않았음을 확인해야 응모할 수 있습니다.")


class EntrantForm(FlaskForm):
    """Who sends the work, and their consents: entered once, however many works they send."""

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
    # The contest's rule on AI, agreed to by each entrant; stored as `declared_at` beside the
    # notice's version (CONSENT_NOTICE_VERSION), which versions this wording too.
    declaration = BooleanField(
        _l(
            "응모 작품은 제가 직접 찍은 사진 또는 영상이며,"
            " AI 도구로 생성하거나 합성하지 않았음을 확인합니다"
        ),
        validators=[DataRequired(message=_DECLARATION_REQUIRED)],
    )
    under14 = BooleanField(_l("응모자가 만 14세 미만입니다"))
    guardian_name = StringField(
        _l("법정대리인 이름"),
        filters=[strip_whitespace],
        validators=[Length(max=50, message=_l("이름은 50자 이내로 써 주세요."))],
    )
    guardian_phone = PhoneField(_l("법정대리인 연락처"), filters=[strip_whitespace])
    guardian_consent = BooleanField(_l("법정대리인으로서 위 개인정보 수집·이용에 동의합니다"))

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


class EntryForm(EntrantForm):
    """An entry: the work, who sent it, and their consents."""

    title = _title_field()
    description = _description_field()
    media = FileField(_l("사진 또는 영상 파일"))
    # A finished resumable upload (contest.public.tus) named by its id, sent by the page's
    # script instead of the file; without script the file comes in `media` as before.
    upload = HiddenField(filters=[strip_whitespace], validators=[Optional(), Length(max=64)])

    def validate_media(self, field) -> None:
        if self.upload.data:
            return
        if not (isinstance(field.data, FileStorage) and field.data):
            raise StopValidation(_("사진이나 영상 파일을 선택해 주세요."))


class WorkForm(Form):
    """One work of several sent together: its finished resumable upload, title, description."""

    upload = HiddenField(
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("파일을 다 올린 뒤에 응모해 주세요.")),
            Length(max=64),
        ],
    )
    title = _title_field()
    description = _description_field()


class WorksForm(EntrantForm):
    """Several works of one entrant in one post (the page's script sends it; see
    docs/OPERATIONS.md): fields `works-0-upload`, `works-0-title`, `works-0-description`,
    then `works-1-...`, each upload a finished resumable upload of this session."""

    works = FieldList(FormField(WorkForm), min_entries=1)


_NO_SUCH_RECEIPT = _l("접수번호를 찾을 수 없습니다. 받은 번호를 다시 확인해 주세요.")


class ReceiptLookupForm(FlaskForm):
    """The landing page's "find my entry": a receipt code, read from the query string."""

    class Meta:
        csrf = False  # a GET that changes nothing

    code = StringField(
        _l("접수번호"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("접수번호를 입력해 주세요.")),
            Length(max=40, message=_NO_SUCH_RECEIPT),
        ],
    )


class WithdrawForm(FlaskForm):
    """Withdrawing an entry: nothing to fill in, the CSRF token is the point."""


def normalise_contact(typed: str) -> str:
    """A typed e-mail address casefolded, or a phone number in E.164; ValueError if neither."""
    typed = (typed or "").strip()
    if "@" in typed:
        try:
            validate_email(typed, check_deliverability=False)
        except EmailNotValidError:
            raise ValueError(_("이메일 주소나 휴대전화 번호를 확인해 주세요.")) from None
        return typed.casefold()
    try:
        return normalise_phone(typed, current_app.config["PHONE_DEFAULT_REGION"])
    except ValueError:
        raise ValueError(_("이메일 주소나 휴대전화 번호를 확인해 주세요.")) from None


def contact_key() -> str:
    """The rate-limit key of the contact a recovery request names, however it was typed.

    A keyed hash: the counters' store (Redis) never holds an address or a number.
    """
    typed = request.form.get("contact", "")
    try:
        contact = normalise_contact(typed)
    except ValueError:
        contact = typed.strip().casefold()
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return "recover:" + hmac.new(secret, contact.encode(), hashlib.sha256).hexdigest()


class RecoverForm(FlaskForm):
    """Asking for one's receipt links: the e-mail address or phone number the entry gave."""

    contact = StringField(
        _l("응모할 때 적은 이메일 주소 또는 휴대전화 번호"),
        filters=[strip_whitespace],
        validators=[
            DataRequired(message=_l("이메일 주소나 휴대전화 번호를 입력해 주세요.")),
            Length(max=254, message=_l("이메일 주소나 휴대전화 번호를 확인해 주세요.")),
        ],
    )

    def validate_contact(self, field) -> None:
        try:
            field.data = normalise_contact(field.data)
        except ValueError as why:
            raise ValidationError(str(why)) from None
