"""Phone numbers: stored in E.164, shown as people write them (Korean or international)."""

from __future__ import annotations

import re

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


_TYPED_PHONE = re.compile(r"\+?[\d\s().\-]+")


def phone_fragment(typed: str, region: str = "KR") -> str | None:
    """What a typed phone number, whole or in part, looks like inside stored E.164 numbers.

    Any spelling of a whole number gives its E.164 form (010-1111-2222, 01011112222 and
    +82 10 1111 2222 all give +821011112222). A part gives its digits, without the national 0
    that E.164 drops (010-1111 gives 101111, which +821011112222 contains), or with its + when
    it starts with one. None when the text is not a number of at least four digits.
    """
    typed = typed.strip()
    if not _TYPED_PHONE.fullmatch(typed):
        return None
    digits = re.sub(r"\D", "", typed)
    if len(digits) < 4:
        return None
    try:
        return normalise_phone(typed, region)
    except ValueError:
        pass
    if typed.startswith("+"):
        return "+" + digits
    return digits[1:] if digits.startswith("0") else digits
