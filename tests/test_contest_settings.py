"""Contest settings: the admin page, the `flask contest` commands, and the pages that show them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from contest.core.extensions import db
from contest.models import AuditLog, AwardTier, Category, Contest, Entry, utcnow
from contest.services import contest_settings

from .conftest import PASSWORD, csrf_token, entry_form
from .photos import photo_bytes
from .test_poster import modules_for, modules_of


def _form(app, **changes) -> dict:
    """The settings page's fields as saved now, with `changes` (field name: value) on top."""
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        settings = contest_settings.settings_of(contest)
        seoul = contest_settings.SEOUL
        data = {name: getattr(settings, name) for name in contest_settings.TEXTS}
        data |= {
            "fair_starts_on": settings.fair_starts_on.isoformat(),
            "fair_ends_on": settings.fair_ends_on.isoformat(),
            "opens_at": f"{settings.opens_at.astimezone(seoul):%Y-%m-%dT%H:%M}",
            "closes_at": f"{settings.closes_at.astimezone(seoul):%Y-%m-%dT%H:%M}",
            "max_entries_per_entrant": "",
            "public_url": "",
        }
        for i, category in enumerate(settings.categories):
            prefix = f"categories-{i}"
            if category.enabled:
                data[f"{prefix}-enabled"] = "y"
            data[f"{prefix}-name"] = category.name
            data[f"{prefix}-name_en"] = category.name_en
            for j, tier in enumerate(category.tiers):
                data[f"{prefix}-tiers-{j}-name"] = tier.name
                data[f"{prefix}-tiers-{j}-name_en"] = tier.name_en
                data[f"{prefix}-tiers-{j}-count"] = str(tier.count)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _contest(app) -> Contest:
    return db.session.scalar(select(Contest))


def _audits(app, action: str) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)))


def _error_of(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    return found.group(1) if found else ""


# The page --------------------------------------------------------------------------------------
def test_the_settings_page_shows_the_contest_as_stored_in_seoul_time(app, client, admin):
    page = client.get("/admin/contest").get_data(as_text=True)
    with app.app_context():
        closes = _contest(app).closes_at.astimezone(contest_settings.SEOUL)
    assert "정부3.0 체험마당 UCC 공모전" in page
    assert f'value="{closes:%Y-%m-%dT%H:%M}"' in page
    assert 'name="categories-1-tiers-3-count"' in page  # video's fourth tier (장려상)
    assert 'id="close-submissions"' in page


def test_saving_settings_changes_the_contest_and_audits_old_to_new(app, client, admin):
    data = _form(
        app,
        title="2027 정부혁신 박람회 공모전",
        title_en="2027 Government Innovation Fair Contest",
        venue_en="COEX, Seoul",
        opens_at="2027-01-05T09:00",
        closes_at="2027-01-20T18:30",
        max_entries_per_entrant="5",
        public_url="https://contest.example.kr/",
        **{
            "categories-1-enabled": None,  # video off
            "categories-0-name_en": "Photos",
            "categories-0-tiers-0-name": "으뜸상",
            "categories-0-tiers-0-name_en": "Top prize",
            "categories-0-tiers-2-count": "4",
        },
    )
    response = client.post("/admin/contest", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/contest"
    with app.app_context():
        contest = _contest(app)
        assert contest.title == "2027 정부혁신 박람회 공모전"
        assert contest.title_en == "2027 Government Innovation Fair Contest"
        # Typed in Seoul time (UTC+9), stored in UTC.
        assert contest.opens_at == datetime(2027, 1, 5, 0, 0, tzinfo=UTC)
        assert contest.closes_at == datetime(2027, 1, 20, 9, 30, tzinfo=UTC)
        assert contest.max_entries_per_entrant == 5
        assert contest.public_url == "https://contest.example.kr"
        photo, video = contest.categories
        assert (photo.enabled, video.enabled) == (True, False)
        assert photo.name_en == "Photos"
        tiers = [(t.slug, t.name, t.name_en, t.count) for t in photo.award_tiers]
        assert tiers == [
            ("grand", "으뜸상", "Top prize", 1),
            ("gold", "최우수상", "", 1),
            ("silver", "우수상", "", 4),
            ("bronze", "장려상", "", 3),
        ]
    (entry,) = _audits(app, "update-contest")
    assert entry.old["title"] == "정부3.0 체험마당 UCC 공모전"
    assert entry.new["title"] == "2027 정부혁신 박람회 공모전"
    assert entry.old["video.enabled"] == "on" and entry.new["video.enabled"] == "off"
    assert entry.new["closes_at"] == "2027-01-20 18:30"
    assert entry.old["photo.tiers.silver.count"] == "2"
    assert entry.new["photo.tiers.silver.count"] == "4"
    assert "venue" not in entry.new  # only what changed
    assert entry.user_id == admin


def test_saving_unchanged_settings_writes_no_audit(app, client, admin):
    assert client.post("/admin/contest", data=_form(app)).status_code == 303
    assert _audits(app, "update-contest") == []


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        (
            {"opens_at": "2027-01-20T18:00", "closes_at": "2027-01-20T18:00"},
            "closes_at",
            "응모 마감은 응모 시작보다 뒤여야 합니다.",
        ),
        (
            {"fair_starts_on": "2026-12-06", "fair_ends_on": "2026-12-03"},
            "fair_ends_on",
            "행사 마지막 날은 첫날과 같거나 그 뒤여야 합니다.",
        ),
        (
            {"categories-0-enabled": None, "categories-1-enabled": None},
            None,
            "응모 부문을 하나 이상 켜 주세요.",
        ),
        (
            {"categories-1-tiers-2-count": "-1"},
            "categories-1-tiers-2-count",
            "상의 수는 0 이상이어야 합니다.",
        ),
        (
            {"categories-0-tiers-0-name": " "},
            "categories-0-tiers-0-name",
            "상 이름을 입력해 주세요.",
        ),
        ({"categories-1-name": ""}, "categories-1-name", "부문 이름을 입력해 주세요."),
        ({"title": ""}, "title", "공모전 이름을 입력해 주세요."),
        (
            {"max_entries_per_entrant": "0"},
            "max_entries_per_entrant",
            "한 사람당 응모 수는 1 이상이어야 합니다.",
        ),
        ({"public_url": "contest.example.kr"}, "public_url", "공개 주소는"),
        ({"public_url": "https://x.kr/?a=1"}, "public_url", "공개 주소는"),
        ({"closes_at": "tomorrow"}, "closes_at", ""),
    ],
)
def test_invalid_settings_are_refused_next_to_their_field_and_nothing_changes(
    app, client, admin, changes, field_id, message
):
    with app.app_context():
        before = contest_settings.flatten(contest_settings.settings_of(_contest(app)))
    response = client.post("/admin/contest", data=_form(app, **changes))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    if field_id is None:
        assert f'<p class="field-error" role="alert">{message}</p>' in page
    else:
        error = _error_of(page, field_id)
        assert error, f"no error shown next to {field_id}"
        assert message in error
    with app.app_context():
        db.session.expire_all()
        assert contest_settings.flatten(contest_settings.settings_of(_contest(app))) == before
        assert db.session.scalars(select(AwardTier)).all() == []
    assert _audits(app, "update-contest") == []


def test_the_settings_page_keeps_csrf(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    make_user("boss", role="admin")
    login_page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={"username": "boss", "password": PASSWORD, "csrf_token": csrf_token(login_page)},
    )
    assert client.post("/admin/contest", data=_form(app, title="X")).status_code == 400
    token = csrf_token(client.get("/admin/contest").get_data(as_text=True))
    response = client.post("/admin/contest", data=_form(app, title="X", csrf_token=token))
    assert response.status_code == 303


def test_close_submissions_now_ends_the_window_and_the_form_refuses_entries(
    app, client, admin, submit
):
    response = client.post("/admin/contest/close")
    assert response.status_code == 303
    with app.app_context():
        contest = _contest(app)
        assert contest.closes_at <= utcnow()
        assert utcnow() - contest.closes_at < timedelta(minutes=1)
    (entry,) = _audits(app, "close-submissions")
    assert entry.user_id == admin
    assert "closes_at" in entry.old and "closes_at" in entry.new
    assert submit().status_code == 403
    page = client.get("/admin/contest").get_data(as_text=True)
    assert 'id="close-submissions"' not in page
    # A second press says it is already closed and changes nothing.
    client.post("/admin/contest/close")
    assert "응모는 이미 마감되었습니다." in client.get("/admin/contest").get_data(as_text=True)
    assert len(_audits(app, "close-submissions")) == 1


# What visitors see -----------------------------------------------------------------------------
def _save(app, **changes) -> None:
    with app.app_context():
        contest = _contest(app)
        settings = contest_settings.settings_of(contest)
        for key, value in changes.items():
            settings = contest_settings.with_value(settings, key, value)
        contest_settings.update(contest, settings, None)
        db.session.commit()


def test_the_landing_page_shows_the_settings_in_korean_and_english(app, client):
    _save(
        app,
        title="2027 박람회 공모전",
        title_en="2027 Fair Contest",
        venue="킨텍스",
        venue_en="KINTEX",
        rules="첫째 규칙\n둘째 규칙",
        rules_en="First rule\nSecond rule",
        prizes="대상 상금 100만 원",
        prizes_en="Grand prize: KRW 1,000,000",
        max_entries_per_entrant="7",
        **{"video.enabled": "off", "photo.name_en": "Photographs"},
    )
    page = client.get("/").get_data(as_text=True)
    for text in ("2027 박람회 공모전", "킨텍스", "<li>첫째 규칙</li>", "대상 상금 100만 원", "7점"):
        assert text in page
    assert "영상" not in re.search(r"응모 부문</dt><dd>(.*?)</dd>", page).group(1)
    client.get("/language/en")
    page = client.get("/").get_data(as_text=True)
    for text in ("2027 Fair Contest", "KINTEX", "<li>Second rule</li>", "KRW 1,000,000"):
        assert text in page
    assert "Photographs" in page


def test_english_left_empty_falls_back_to_the_seeded_translation(app, client):
    client.get("/language/en")
    page = client.get("/").get_data(as_text=True)
    assert "Government 3.0" in page  # the catalogue's English of the seeded title


def test_the_entry_form_shows_the_contests_own_limit_and_categories(app, client):
    _save(app, max_entries_per_entrant="2", **{"photo.enabled": "off", "video.name": "짧은 영상"})
    page = client.get("/submit").get_data(as_text=True)
    assert "한 사람당 2점까지 응모할 수 있습니다." in page
    summary = re.search(r'<p class="hint contest-summary">(.*?)</p>', page, re.S).group(1)
    assert "짧은 영상" in summary and "사진" not in summary


def test_the_contests_limit_wins_over_the_setting(make_app):
    app = make_app(MAX_ENTRIES_PER_ENTRANT=5)
    _save(app, max_entries_per_entrant="1")
    client = app.test_client()

    def post(seed):
        return client.post(
            "/submit", data=entry_form(photo_bytes(seed=seed)), content_type="multipart/form-data"
        )

    assert post(1).status_code == 303
    refused = post(2)
    assert refused.status_code == 409
    assert "1개 작품까지" in refused.get_data(as_text=True)
    _save(app, max_entries_per_entrant="")  # cleared: the setting's 5 again
    assert post(3).status_code == 303


def test_a_category_switched_off_takes_no_entries(app, submit):
    _save(app, **{"photo.enabled": "off"})
    response = submit()
    assert response.status_code == 403
    assert "지금은 이 부문의 응모를 받지 않습니다." in response.get_data(as_text=True)


def test_the_winners_page_shows_the_tier_and_category_names_set(app, client, admin, make_entry):
    _save(
        app,
        **{
            "photo.name": "사진 부문상",
            "photo.name_en": "Photo awards",
            "photo.tiers.grand.name": "으뜸상",
            "photo.tiers.grand.name_en": "Top prize",
        },
    )
    entry_id = make_entry("일등 작품", consent_publish=True)
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        from contest.models import Award

        db.session.add(
            Award(
                contest_id=entry.contest_id,
                category_id=entry.category_id,
                entry_id=entry_id,
                tier="grand",
                position=1,
            )
        )
        _contest(app).results_published_at = utcnow()
        db.session.commit()
    page = client.get("/winners").get_data(as_text=True)
    assert "<h3>으뜸상</h3>" in page and "사진 부문상 부문" in page
    client.get("/language/en")
    page = client.get("/winners").get_data(as_text=True)
    assert "<h3>Top prize</h3>" in page and "Photo awards" in page


def test_proposals_give_each_category_its_own_tier_counts(app, admin, make_entry, make_user):
    from contest.models import Round, Score
    from contest.services import awards

    _save(app, **{"photo.tiers.grand.count": "2", "photo.tiers.gold.count": "0"})
    ids = [make_entry(f"작품 {n}") for n in range(4)]
    judges = [make_user(f"judge-{n}") for n in range(3)]
    with app.app_context():
        round_ = db.session.scalar(select(Round))
        for rank, entry_id in enumerate(ids):
            for judge_id in judges:
                db.session.add(
                    Score(
                        round_id=round_.id,
                        entry_id=entry_id,
                        judge_id=judge_id,
                        values={c.slug: 10 - rank for c in round_.criteria},
                        total=10.0 - rank,
                    )
                )
        db.session.commit()
        given = awards.propose(_contest(app), 3, None)
        assert [a.tier for a in given] == ["grand", "grand", "silver", "silver"]


# The poster ------------------------------------------------------------------------------------
def _qr_data(page: str, data: str) -> bool:
    path = re.search(r'<svg [^>]*class="qr".*?<path d="([^"]+)"', page, re.S).group(1)
    return modules_of(path) == modules_for(data)


def test_the_poster_uses_the_public_url_setting(make_app, make_user):
    app = make_app(PUBLIC_URL="https://fair.example.kr")
    client = app.test_client()
    make_user("boss", role="admin")
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    page = client.get("/admin/poster").get_data(as_text=True)
    assert _qr_data(page, "https://fair.example.kr/submit")
    assert '<figcaption class="poster-url">https://fair.example.kr/submit</figcaption>' in page
    assert "poster-warning" not in page


def test_the_contests_public_url_wins_and_shows_with_the_settings(make_app, make_user):
    app = make_app(PUBLIC_URL="https://fair.example.kr")
    _save(app, public_url="https://ucc.example.go.kr/", title_en="Fair Contest")
    client = app.test_client()
    make_user("boss", role="admin")
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    page = client.get("/admin/poster").get_data(as_text=True)
    assert _qr_data(page, "https://ucc.example.go.kr/submit")
    assert "https://ucc.example.go.kr/submit</figcaption>" in page
    assert "Fair Contest" in page


def test_without_a_public_url_the_poster_warns_on_screen_only(client, admin):
    page = client.get("/admin/poster").get_data(as_text=True)
    warning = re.search(r'<p class="([^"]*poster-warning[^"]*)"[^>]*>(.*?)</p>', page, re.S)
    assert warning is not None
    assert "no-print" in warning.group(1).split()
    assert "http://localhost/submit" in warning.group(2)
    css = client.get("/static/css/print.css")
    assert re.search(r"@media print\s*{[^}]*\.no-print[^}]*display:\s*none", css.text)
    css.close()


# The shell -------------------------------------------------------------------------------------
def test_contest_show_prints_every_setting(runner):
    result = runner.invoke(args=["contest", "show"])
    assert result.exit_code == 0, result.output
    assert "title = 정부3.0 체험마당 UCC 공모전" in result.output
    assert "photo.tiers.bronze.count = 3" in result.output
    assert "fair_starts_on = 2026-12-03" in result.output
    assert re.search(r"^closes_at = \d{4}-\d\d-\d\d \d\d:\d\d$", result.output, re.M)
    assert "# per-entrant limit in force: 3" in result.output


def test_contest_set_changes_one_setting_and_audits_it_as_the_cli(app, runner):
    result = runner.invoke(args=["contest", "set", "closes_at", "2031-12-06 18:00"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert _contest(app).closes_at == datetime(2031, 12, 6, 9, 0, tzinfo=UTC)
    (entry,) = _audits(app, "update-contest")
    assert entry.user_id is None and entry.new == {"closes_at": "2031-12-06 18:00", "via": "cli"}
    result = runner.invoke(args=["contest", "set", "video.tiers.gold.count", "2"])
    assert result.exit_code == 0, result.output
    assert "video.tiers.gold.count = 2" in runner.invoke(args=["contest", "show"]).output


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("closes_at", "2000-01-01 00:00", "응모 마감은 응모 시작보다 뒤여야 합니다."),
        ("closes_at", "next week", "서울 시각"),
        ("photo.tiers.grand.count", "-2", "0 이상"),
        ("photo.tiers.grand.count", "many", "정수"),
        ("max_entries_per_entrant", "0", "1 이상"),
        ("public_url", "ftp://x", "공개 주소는"),
        ("nonsense", "1", "없는 설정"),
        ("photo.tiers.nonsense.count", "1", "없는 설정"),
    ],
)
def test_contest_set_refuses_what_the_page_refuses(app, runner, key, value, message):
    result = runner.invoke(args=["contest", "set", "--", key, value])
    assert result.exit_code == 1
    assert message in result.output
    assert _audits(app, "update-contest") == []


def test_contest_set_cannot_switch_off_every_category(app, runner):
    assert runner.invoke(args=["contest", "set", "video.enabled", "off"]).exit_code == 0
    result = runner.invoke(args=["contest", "set", "photo.enabled", "off"])
    assert result.exit_code == 1 and "응모 부문을 하나 이상" in result.output
    with app.app_context():
        assert db.session.scalar(select(Category).where(Category.kind == "photo")).enabled


def test_contest_close_submissions_from_the_shell(app, runner):
    result = runner.invoke(args=["contest", "close-submissions"])
    assert result.exit_code == 0, result.output
    (entry,) = _audits(app, "close-submissions")
    assert entry.user_id is None and entry.new["via"] == "cli"
    again = runner.invoke(args=["contest", "close-submissions"])
    assert again.exit_code == 1
