"""Phone numbers: stored in E.164, shown as people write them (Korean or international)."""

from __future__ import annotations

import phonenumbers
from flask_babel import lazy_gettext as _l


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
