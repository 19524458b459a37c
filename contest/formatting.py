"""How values are shown to people: times in Korean time, sizes, phone numbers."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask

from .forms import display_phone

SEOUL = ZoneInfo("Asia/Seoul")
_WEEKDAYS = "월화수목금토일"


def korean_time(moment: datetime | None) -> str:
    """2026-11-25 (수) 14:05 — a stored UTC moment in Seoul time."""
    if moment is None:
        return ""
    local = moment.astimezone(SEOUL)
    return f"{local:%Y-%m-%d} ({_WEEKDAYS[local.weekday()]}) {local:%H:%M}"


def korean_date(day: date | datetime | None) -> str:
    """2026년 11월 25일 (수)."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.astimezone(SEOUL).date()
    return f"{day.year}년 {day.month}월 {day.day}일 ({_WEEKDAYS[day.weekday()]})"


def file_size(size: int) -> str:
    """52.3 GB, 4.2 MB, 380 KB."""
    if size >= 1024**3:
        return f"{size / 1024**3:.1f}".removesuffix(".0") + " GB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    if size == 0:
        return "0 KB"
    return f"{max(1, round(size / 1024))} KB"


def korean_duration(seconds: float | None) -> str:
    """3분 20초, 45초."""
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    if not minutes:
        return f"{rest}초"
    return f"{minutes}분 {rest}초" if rest else f"{minutes}분"


def init_app(app: Flask) -> None:
    """Register the filters with the templates."""
    app.add_template_filter(korean_time)
    app.add_template_filter(korean_date)
    app.add_template_filter(file_size)
    app.add_template_filter(korean_duration)
    app.add_template_filter(display_phone, "phone")
