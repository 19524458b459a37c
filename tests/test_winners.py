"""The public winners page: only after publication, masked names, works only with consent."""

from __future__ import annotations

import re

from sqlalchemy import select

from contest.core.extensions import db
from contest.core.phones import display_phone
from contest.models import Asset, Award, Category, Entry

from .test_awards import set_published


def award(app, entry_id: int, tier: str, position: int, rank: int | None = None) -> None:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        db.session.add(
            Award(
                contest_id=entry.contest_id,
                category_id=entry.category_id,
                entry_id=entry.id,
                tier=tier,
                position=position,
                rank=rank,
            )
        )
        db.session.commit()


def keys_of(app, entry_id: int) -> dict[str, str]:
    with app.app_context():
        return {a.role: a.key for a in db.session.get(Entry, entry_id).assets}


def test_nothing_is_shown_before_the_results_are_published(app, client, make_entry):
    entry = make_entry(title="비밀의 수상작", entrant_name="홍길동", consent_publish=True)
    award(app, entry, "grand", 1)
    response = client.get("/winners")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "아직 수상작을 발표하지 않았습니다" in page
    assert "비밀의 수상작" not in page and "홍" not in page.split("<main")[1]


def test_published_winners_show_masked_names_and_only_consented_works(app, client, make_entry):
    shown = make_entry(title="코엑스의 아침", entrant_name="홍길동", consent_publish=True)
    short = make_entry(title="두 글자", entrant_name="김철", consent_publish=True)
    private = make_entry(
        title="숨은 작품",
        entrant_name="이몽룡",
        consent_publish=False,
        phone="+447911123456",
        email="mong@example.com",
    )
    make_entry(title="낙선작", entrant_name="성춘향", consent_publish=True)
    award(app, shown, "grand", 1)
    award(app, short, "gold", 2)
    award(app, private, "silver", 3)
    set_published(app, True)

    response = client.get("/winners")  # no login
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "홍*동" in page and "김*" in page
    assert "홍길동" not in page and "김철" not in page
    assert "코엑스의 아침" in page and "두 글자" in page
    assert keys_of(app, shown)["preview"] in page
    assert re.findall(r"<h3>(.*?)</h3>", page) == ["대상", "최우수상", "우수상"]

    assert "수상자 (비공개)" in page
    assert "숨은 작품" not in page and "이몽룡" not in page and "이*룡" not in page
    assert all(key not in page for key in keys_of(app, private).values())
    assert "낙선작" not in page

    with app.app_context():
        entries = db.session.scalars(select(Entry)).all()
        contacts = [e.email for e in entries] + [e.phone for e in entries]
        contacts += [display_phone(e.phone) for e in entries]
    assert all(contact not in page for contact in contacts)
    assert "@" not in page.split("<main")[1].split("</main>")[0]
    assert keys_of(app, shown)["original"] not in page  # originals are never public


def test_a_video_winner_shows_its_poster_and_player(app, client, make_entry):
    video = make_entry(
        title="체험마당 영상", kind="video", entrant_name="Jane Doe", consent_publish=True
    )
    with app.app_context():
        entry = db.session.get(Entry, video)
        entry.playback_status = "ready"
        db.session.add(
            Asset(
                entry_id=video,
                role="playback",
                key="derived/pl/playback.mp4",
                content_type="video/mp4",
                size=10,
            )
        )
        db.session.commit()
    award(app, video, "grand", 1)
    set_published(app, True)
    page = client.get("/winners").get_data(as_text=True)
    keys = keys_of(app, video)
    assert "<video" in page
    assert f'poster="/media/{keys["preview"]}"' in page
    assert f'src="/media/{keys["playback"]}"' in page
    assert "J*** D**" in page and "Jane" not in page


def test_unpublishing_hides_the_page_again(app, client, make_entry):
    entry = make_entry(title="한때 공개", entrant_name="홍길동", consent_publish=True)
    award(app, entry, "grand", 1)
    set_published(app, True)
    assert client.get("/winners").status_code == 200
    set_published(app, False)
    response = client.get("/winners")
    assert response.status_code == 404 and "한때 공개" not in response.get_data(as_text=True)


def test_every_category_is_listed_even_without_winners(app, client, make_entry):
    entry = make_entry(title="사진 수상작", entrant_name="홍길동", consent_publish=True)
    award(app, entry, "grand", 1)
    set_published(app, True)
    page = client.get("/winners").get_data(as_text=True)
    with app.app_context():
        names = db.session.scalars(select(Category.name)).all()
    assert all(f"{name} 부문" in page for name in names)
    assert "수상작이 없습니다" in page  # the video category
