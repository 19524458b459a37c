"""WTForms pieces that the visitors' and the staff's forms share: a filter and the phone field."""

from __future__ import annotations

from flask import current_app
from wtforms import TelField
from wtforms.validators import ValidationError

from contest.core.phones import normalise_phone


def strip_whitespace(value: str | None) -> str | None:
    """A WTForms filter: what people type on phones often ends with a stray space."""
    return value.strip() if isinstance(value, str) else value


class PhoneField(TelField):
    """A phone number; after validation `data` holds it in E.164.

    A form shown again (refused for another reason) gives the number back as it was typed,
    not as +8210...: people recognise what they wrote.
    """

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return super()._value()

    def pre_validate(self, form) -> None:
        if self.data:
            try:
                self.data = normalise_phone(self.data, current_app.config["PHONE_DEFAULT_REGION"])
            except ValueError as why:
                raise ValidationError(str(why)) from None
