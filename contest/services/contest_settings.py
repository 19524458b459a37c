"""The contest's settings as the organisers edit them, on /admin/contest or with `flask contest`.

One set of rules for both: `update` checks a whole `ContestSettings` (plain values), applies it
and writes what changed to the audit log (old → new); `with_value` turns a shell's `KEY VALUE`
into the same values. Texts are stored in Korean with an optional English beside them
(`title` / `title_en`, ...); pages show them through the `localized` filter.

Award tiers: each category has its own names and counts. Which tiers there are (their slugs)
is the AWARD_TIERS setting's list: admins rename them and set how many each gives (0: none),
so an award already given always keeps its tier.

Every function here flushes; the caller commits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from contest.core.extensions import db
from contest.core.formatting import SEOUL
from contest.core.i18n import translatable
from contest.core.refusal import Refusal
from contest.models import AwardTier, Category, Contest, User
from contest.services import awards
from contest.services.audit import audit

KINDS = ("photo", "video")
DEFAULT_CATEGORY_NAMES = {"photo": translatable("사진"), "video": translatable("영상")}
TITLE_MAX, VENUE_MAX, NAME_MAX, URL_MAX = 200, 200, 100, 300
# How the shell writes (and `show` prints) a moment: Seoul time, to the minute.
MOMENT_FORMAT = "%Y-%m-%d %H:%M"


class SettingsError(Refusal):
    """A refused settings change; `field` names the form field it belongs to."""

    status = 400


@dataclass
class TierSettings:
    slug: str
    name: str
    name_en: str
    count: int


@dataclass
class CategorySettings:
    kind: str
    enabled: bool
    name: str
    name_en: str
    tiers: list[TierSettings] = field(default_factory=list)


@dataclass
class ContestSettings:
    """Everything an admin sets about the contest; moments are aware datetimes."""

    title: str
    title_en: str
    description: str
    description_en: str
    venue: str
    venue_en: str
    fair_starts_on: date
    fair_ends_on: date
    opens_at: datetime
    closes_at: datetime
    rules: str
    rules_en: str
    prizes: str
    prizes_en: str
    max_entries_per_entrant: int | None  # None: the MAX_ENTRIES_PER_ENTRANT setting
    public_url: str | None  # None: the PUBLIC_URL setting
    categories: list[CategorySettings] = field(default_factory=list)
    # The people's-choice voting window; None: the submission window's opening or closing.
    voting_opens_at: datetime | None = None
    voting_closes_at: datetime | None = None


TEXTS = (
    "title",
    "title_en",
    "description",
    "description_en",
    "venue",
    "venue_en",
    "rules",
    "rules_en",
    "prizes",
    "prizes_en",
)


def settings_of(contest: Contest) -> ContestSettings:
    """The contest's settings as they are now (a category never made shows switched off)."""
    categories = []
    for kind in KINDS:
        category = next((c for c in contest.categories if c.kind == kind), None)
        tiers = awards.tiers(category)
        categories.append(
            CategorySettings(
                kind=kind,
                enabled=category is not None and category.enabled,
                name=category.name if category else DEFAULT_CATEGORY_NAMES[kind],
                name_en=category.name_en if category else "",
                tiers=[TierSettings(t.slug, t.name, t.name_en, t.count) for t in tiers],
            )
        )
    return ContestSettings(
        **{name: getattr(contest, name) or "" for name in TEXTS},
        fair_starts_on=contest.fair_starts_on,
        fair_ends_on=contest.fair_ends_on,
        opens_at=contest.opens_at,
        closes_at=contest.closes_at,
        max_entries_per_entrant=contest.max_entries_per_entrant,
        public_url=contest.public_url,
        categories=categories,
        voting_opens_at=contest.voting_opens_at,
        voting_closes_at=contest.voting_closes_at,
    )


def update(
    contest: Contest, new: ContestSettings, actor: User | None, via: str | None = None
) -> dict[str, tuple[str, str]]:
    """Check and apply the settings; audit what changed. Returns {key: (old, new)} of it."""
    new = _checked(new)
    before = flatten(settings_of(contest))
    for name in TEXTS:
        setattr(contest, name, getattr(new, name))
    contest.fair_starts_on, contest.fair_ends_on = new.fair_starts_on, new.fair_ends_on
    contest.opens_at, contest.closes_at = new.opens_at, new.closes_at
    contest.max_entries_per_entrant = new.max_entries_per_entrant
    contest.public_url = new.public_url
    contest.voting_opens_at, contest.voting_closes_at = new.voting_opens_at, new.voting_closes_at
    for position, wanted in enumerate(new.categories, 1):
        _apply_category(contest, wanted, position)
    after = flatten(new)
    changed = {k: (before.get(k, ""), v) for k, v in after.items() if before.get(k, "") != v}
    db.session.flush()
    if changed:
        extra = {"via": via} if via else {}
        audit(
            actor,
            "update-contest",
            f"contest:{contest.id}",
            {k: old for k, (old, _new) in changed.items()},
            {k: value for k, (_old, value) in changed.items()} | extra,
        )
    return changed


def close_submissions(
    contest: Contest, now: datetime, actor: User | None, via: str | None = None
) -> None:
    """End the submission window now: the form stops taking entries from this moment."""
    if now >= contest.closes_at:
        raise SettingsError(_l("응모는 이미 마감되었습니다."), 409)
    if now <= contest.opens_at:
        raise SettingsError(
            _l("응모 기간이 아직 시작되지 않았습니다. 응모 시작과 마감 시각을 고쳐 주세요."), 409
        )
    old = _moment_text(contest.closes_at)
    contest.closes_at = now
    db.session.flush()
    extra = {"via": via} if via else {}
    audit(
        actor,
        "close-submissions",
        f"contest:{contest.id}",
        {"closes_at": old},
        {"closes_at": _moment_text(now)} | extra,
    )


# The shell's keys ------------------------------------------------------------------------------
def flatten(settings: ContestSettings) -> dict[str, str]:
    """Every setting as `key: text`, in the shell's keys (`photo.tiers.gold.count`, ...)."""
    flat = {name: getattr(settings, name) for name in TEXTS[:6]}
    flat |= {
        "fair_starts_on": settings.fair_starts_on.isoformat(),
        "fair_ends_on": settings.fair_ends_on.isoformat(),
        "opens_at": _moment_text(settings.opens_at),
        "closes_at": _moment_text(settings.closes_at),
    }
    flat |= {name: getattr(settings, name) for name in TEXTS[6:]}
    flat["max_entries_per_entrant"] = _optional_text(settings.max_entries_per_entrant)
    flat["public_url"] = settings.public_url or ""
    flat["voting_opens_at"] = _optional_moment_text(settings.voting_opens_at)
    flat["voting_closes_at"] = _optional_moment_text(settings.voting_closes_at)
    for category in settings.categories:
        prefix = category.kind
        flat[f"{prefix}.enabled"] = "on" if category.enabled else "off"
        flat[f"{prefix}.name"] = category.name
        flat[f"{prefix}.name_en"] = category.name_en
        for tier in category.tiers:
            flat[f"{prefix}.tiers.{tier.slug}.name"] = tier.name
            flat[f"{prefix}.tiers.{tier.slug}.name_en"] = tier.name_en
            flat[f"{prefix}.tiers.{tier.slug}.count"] = str(tier.count)
    return flat


def with_value(settings: ContestSettings, key: str, text: str) -> ContestSettings:
    """The settings with one key set from text, as typed in a shell; `update` checks the rest.

    Moments are Seoul time (`2026-12-03 09:00`), days `2026-12-03`, switches on/off, and an
    empty text clears the limit, the public URL and the voting window's ends back to their
    defaults.
    """
    new = dataclasses.replace(
        settings,
        categories=[
            dataclasses.replace(c, tiers=[dataclasses.replace(t) for t in c.tiers])
            for c in settings.categories
        ],
    )
    text = text.strip()
    parts = key.split(".")
    if key in TEXTS:
        setattr(new, key, text)
    elif key in ("fair_starts_on", "fair_ends_on"):
        day = _parse(date.fromisoformat, text, key, _l("날짜는 2026-12-03처럼 씁니다."))
        setattr(new, key, day)
    elif key in ("opens_at", "closes_at"):
        setattr(new, key, parse_moment(text, key))
    elif key in ("voting_opens_at", "voting_closes_at"):
        setattr(new, key, parse_moment(text, key) if text else None)
    elif key == "max_entries_per_entrant":
        new.max_entries_per_entrant = None if not text else _integer(text, key)
    elif key == "public_url":
        new.public_url = text or None
    elif parts[0] in KINDS and len(parts) in (2, 4):
        category = next(c for c in new.categories if c.kind == parts[0])
        if len(parts) == 2 and parts[1] == "enabled":
            if text.lower() not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
                raise SettingsError(_l("on이나 off로 씁니다."), field=key)
            category.enabled = text.lower() in ("on", "true", "yes", "1")
        elif len(parts) == 2 and parts[1] in ("name", "name_en"):
            setattr(category, parts[1], text)
        elif len(parts) == 4 and parts[1] == "tiers":
            tier = next((t for t in category.tiers if t.slug == parts[2]), None)
            if tier is None or parts[3] not in ("name", "name_en", "count"):
                raise SettingsError(_l("없는 설정입니다: %(key)s", key=key), field=key)
            value = _integer(text, key) if parts[3] == "count" else text
            setattr(tier, parts[3], value)
        else:
            raise SettingsError(_l("없는 설정입니다: %(key)s", key=key), field=key)
    else:
        raise SettingsError(_l("없는 설정입니다: %(key)s", key=key), field=key)
    return new


def parse_moment(text: str, key: str = "") -> datetime:
    """`2026-12-03 09:00` (or with a T) read as Seoul time."""
    moment = _parse(
        lambda t: datetime.strptime(t.replace("T", " "), MOMENT_FORMAT),
        text,
        key,
        _l("시각은 2026-12-03 09:00처럼 서울 시각으로 씁니다."),
    )
    return moment.replace(tzinfo=SEOUL)


# The rules -------------------------------------------------------------------------------------
def _checked(new: ContestSettings) -> ContestSettings:
    """The settings cleaned (texts stripped, URL without its trailing slash), or a refusal."""
    for name in TEXTS:
        setattr(new, name, (getattr(new, name) or "").strip())
    for name, most in (("title", TITLE_MAX), ("title_en", TITLE_MAX)):
        _fits(getattr(new, name), most, name)
    for name in ("venue", "venue_en"):
        _fits(getattr(new, name), VENUE_MAX, name)
    if not new.title:
        raise SettingsError(_l("공모전 이름을 입력해 주세요."), field="title")
    if new.fair_ends_on < new.fair_starts_on:
        raise SettingsError(
            _l("행사 마지막 날은 첫날과 같거나 그 뒤여야 합니다."), field="fair_ends_on"
        )
    for name in ("opens_at", "closes_at"):
        if getattr(new, name).tzinfo is None:
            raise ValueError(f"{name}: say which time zone it is in")
    if new.closes_at <= new.opens_at:
        raise SettingsError(_l("응모 마감은 응모 시작보다 뒤여야 합니다."), field="closes_at")
    for name in ("voting_opens_at", "voting_closes_at"):
        moment = getattr(new, name)
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name}: say which time zone it is in")
    voting_opens = new.voting_opens_at or new.opens_at
    voting_closes = new.voting_closes_at or new.closes_at
    if voting_closes <= voting_opens:
        raise SettingsError(
            _l("투표 마감은 투표 시작보다 뒤여야 합니다 (비워 두면 응모 기간을 따릅니다)."),
            field="voting_closes_at",
        )
    limit = new.max_entries_per_entrant
    if limit is not None and limit < 1:
        raise SettingsError(
            _l("한 사람당 응모 수는 1 이상이어야 합니다."), field="max_entries_per_entrant"
        )
    new.public_url = _checked_url(new.public_url)
    if not any(c.enabled for c in new.categories):
        raise SettingsError(_l("응모 부문을 하나 이상 켜 주세요."), field="categories")
    for i, category in enumerate(new.categories):
        category.name, category.name_en = category.name.strip(), category.name_en.strip()
        where = f"categories-{i}"
        if not category.name:
            raise SettingsError(_l("부문 이름을 입력해 주세요."), field=f"{where}-name")
        _fits(category.name, NAME_MAX, f"{where}-name")
        _fits(category.name_en, NAME_MAX, f"{where}-name_en")
        for j, tier in enumerate(category.tiers):
            tier.name, tier.name_en = tier.name.strip(), tier.name_en.strip()
            if tier.count is None or tier.count < 0:
                raise SettingsError(
                    _l("상의 수는 0 이상이어야 합니다."), field=f"{where}-tiers-{j}-count"
                )
            if not tier.name:
                raise SettingsError(_l("상 이름을 입력해 주세요."), field=f"{where}-tiers-{j}-name")
            _fits(tier.name, NAME_MAX, f"{where}-tiers-{j}-name")
            _fits(tier.name_en, NAME_MAX, f"{where}-tiers-{j}-name_en")
    return new


def _checked_url(url: str | None) -> str | None:
    url = (url or "").strip().rstrip("/")
    if not url:
        return None
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or len(url) > URL_MAX
    ):
        raise SettingsError(
            _l("공개 주소는 https://contest.example.kr처럼 http(s)로 시작하는 주소만 씁니다."),
            field="public_url",
        )
    return url


def _apply_category(contest: Contest, wanted: CategorySettings, position: int) -> None:
    category = next((c for c in contest.categories if c.kind == wanted.kind), None)
    if category is None:
        if not wanted.enabled:
            return  # never made and still off: nothing to store
        category = Category(slug=wanted.kind, kind=wanted.kind, position=position)
        contest.categories.append(category)
    category.enabled = wanted.enabled
    category.name, category.name_en = wanted.name, wanted.name_en
    stored = {t.slug: t for t in category.award_tiers}
    for order, tier in enumerate(wanted.tiers):
        row = stored.get(tier.slug)
        if row is None:
            row = AwardTier(slug=tier.slug)
            category.award_tiers.append(row)
        row.name, row.name_en, row.count, row.position = tier.name, tier.name_en, tier.count, order


def _fits(text: str, most: int, name: str) -> None:
    if len(text) > most:
        raise SettingsError(_l("%(max)s자 이내로 써 주세요.", max=most), field=name)


def _integer(text: str, key: str) -> int:
    return _parse(int, text, key, _l("정수로 써 주세요."))


def _parse(parse, text: str, key: str, message):
    try:
        return parse(text)
    except ValueError:
        raise SettingsError(message, field=key) from None


def _moment_text(moment: datetime) -> str:
    return f"{moment.astimezone(SEOUL):{MOMENT_FORMAT}}"


def _optional_moment_text(moment: datetime | None) -> str:
    return "" if moment is None else _moment_text(moment)


def _optional_text(value: int | None) -> str:
    return "" if value is None else str(value)
