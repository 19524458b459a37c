"""Languages: Korean first, English for foreign visitors; chosen by a visible switch.

The switch is remembered in the session; without it the browser's Accept-Language decides,
and Korean is the fallback. Times are shown in Seoul time, formatted for the language.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request, session
from flask_babel import Babel, get_locale, gettext

LANGUAGES = {"ko": "한국어", "en": "English"}
DEFAULT = "ko"

babel = Babel()


def select_locale() -> str:
    """The visitor's choice, else the browser's preference among ours, else Korean."""
    if not has_request_context():
        return DEFAULT  # commands and background jobs speak the default language
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT)


def translate_name(text: str | None) -> str | None:
    """Text stored in the database, in the visitor's language when it is one we seeded.

    The seeded contest texts, category, round and criteria names are msgids (marked with
    `translatable`); a text an admin typed has no translation and stays as typed. Used as
    a template filter rather than `_(text)`: Jinja's gettext marks its result safe and always
    %-formats it, so typed text with < or % would go out unescaped or break the page. This
    returns plain text, which the template escapes.
    """
    return str(gettext(text)) if text else text


def localized(thing: object, field: str) -> str | None:
    """`thing.<field>` in the visitor's language: the English an admin typed (`<field>_en`)
    on English pages, else the Korean through `translate_name` (so the seeded texts keep
    their catalogue translation). As a filter: `contest | localized("title")`.
    """
    english = getattr(thing, f"{field}_en", "")
    if english and str(get_locale()) == "en":
        return english
    return translate_name(getattr(thing, field))


def init_app(app: Flask) -> None:
    """Set up Flask-Babel with our catalogues and the language switch."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Seoul")
    babel.init_app(app, locale_selector=select_locale)
    app.add_template_filter(translate_name)
    app.add_template_filter(localized)

    @app.context_processor
    def languages() -> dict:
        return {"languages": LANGUAGES, "get_locale": get_locale}


def translatable(text: str) -> str:
    """Mark database text for extraction (`pybabel extract -k translatable`); returns it as is.

    The seeded contest's texts are stored in Korean; the templates show them through
    `_()`, so a visitor reading English sees the translation, and a text an admin has edited
    (which has none) shows unchanged.
    """
    return text
