"""The contest this site runs: found for every request, seeded by `init-db` when there is none."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, current_app
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.i18n import translatable
from contest.models import Category, Contest

FAIR_SLUG = "gov30-fair-ucc"
SUBMISSION_DAYS = 30


_TITLE = translatable("정부3.0 체험마당 UCC 공모전")
_DESCRIPTION = translatable(
    "정부3.0 체험마당에서 만난 정부 서비스와 오늘의 순간을"
    " 사진과 짧은 영상으로 담아 응모해 주세요. "
    "44개 중앙행정기관과 17개 시·도가 함께하는 체험마당의 모습을 가장 잘 보여 준 작품을 시상합니다."
)
_VENUE = translatable("서울 코엑스(COEX)")
_PRIZES = translatable("대상 1점 · 최우수상 1점 · 우수상 2점 · 장려상 3점 (부문별)")
# One msgid per line: the landing page lists (and translates) the rules line by line.
_RULES = "\n".join(
    (
        translatable("본인이 직접 촬영한 작품만 응모할 수 있습니다."),
        translatable("한 사람당 부문 구분 없이 최대 3점까지 응모할 수 있습니다."),
        translatable("초상권·저작권 침해가 확인되면 수상이 취소될 수 있습니다."),
        translatable("사진은 JPG·PNG·WebP·HEIC, 긴 변 1000픽셀 이상, 40 MB 이하로 올려 주세요."),
    )
)


def seed_fair_contest(now: datetime) -> Contest | None:
    """Create the fair's contest if there is none yet; returns it, or None if one existed.

    The submission window opens now and stays open 30 days; admins edit both later.
    """
    if db.session.scalar(select(Contest.id).limit(1)) is not None:
        return None
    contest = Contest(
        slug=FAIR_SLUG,
        title=_TITLE,
        description=_DESCRIPTION,
        venue=_VENUE,
        fair_starts_on=date(2026, 12, 3),
        fair_ends_on=date(2026, 12, 6),
        opens_at=now,
        closes_at=now + timedelta(days=SUBMISSION_DAYS),
        prizes=_PRIZES,
        rules=_RULES,
        categories=[
            Category(slug="photo", name=translatable("사진"), kind="photo", position=1),
            Category(slug="video", name=translatable("영상"), kind="video", position=2),
        ],
    )
    db.session.add(contest)
    db.session.flush()
    return contest


def find_current_contest() -> Contest | None:
    """The contest this site runs (the fair's, seeded by `init-db`), or None before that."""
    return db.session.scalar(select(Contest).order_by(Contest.id).limit(1))


def current_contest() -> Contest:
    """The contest this site runs; a 404 for a request made before `init-db` seeded it."""
    contest = find_current_contest()
    if contest is None:
        abort(404)
    return contest


def entry_limit(contest: Contest) -> int:
    """How many entries one person may make: the contest's own limit, else the setting."""
    if contest.max_entries_per_entrant is not None:
        return contest.max_entries_per_entrant
    return current_app.config["MAX_ENTRIES_PER_ENTRANT"]


def public_url(contest: Contest) -> str | None:
    """The address visitors reach the site at (no trailing slash): the contest's own, else
    the PUBLIC_URL setting; None when neither is set."""
    url = contest.public_url or current_app.config.get("PUBLIC_URL")
    return url.rstrip("/") if url else None
