"""How values are shown to people: Seoul times in their language, sizes, phone numbers."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import format_date, format_datetime, gettext

from contest.core.phones import display_phone

SEOUL = ZoneInfo("Asia/Seoul")


def local_time(moment: datetime | None) -> str:
    """2026-11-25 (수) 14:05, or (Wed) in English: a stored UTC moment in Seoul time."""
    if moment is None:
        return ""
    # Flask-Babel converts to BABEL_DEFAULT_TIMEZONE (Asia/Seoul) and names the weekday in
    # the visitor's language.
    return format_datetime(moment, "yyyy-MM-dd (E) HH:mm")


def local_date(day: date | datetime | None) -> str:
    """2026년 12월 3일 목요일 / Thursday, December 3, 2026."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.astimezone(SEOUL).date()
    return format_date(day, "full")


def seoul_time(moment: datetime | None) -> str:
    """2026-11-25 14:05 in Seoul time, the same in every language (for exported files)."""
    return "" if moment is None else f"{moment.astimezone(SEOUL):%Y-%m-%d %H:%M}"


def file_size(size: int) -> str:
    """52.3 GB, 4.2 MB, 380 KB."""
    if size >= 1024**3:
        return f"{size / 1024**3:.1f}".removesuffix(".0") + " GB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    if size == 0:
        return "0 KB"
    return f"{max(1, round(size / 1024))} KB"


def duration_text(seconds: float | None) -> str:
    """3분 20초 / 3 min 20 s."""
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    if not minutes:
        return gettext("%(s)d초", s=rest)
    if not rest:
        return gettext("%(m)d분", m=minutes)
    return gettext("%(m)d분 %(s)d초", m=minutes, s=rest)


def init_app(app: Flask) -> None:
    """Register the filters with the templates."""
    app.add_template_filter(local_time)
    app.add_template_filter(local_date)
    app.add_template_filter(file_size)
    app.add_template_filter(duration_text)
    app.add_template_filter(display_phone, "phone")
