"""The public gallery: only approved, consenting entries, names masked, ids that reveal nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from contest.core.extensions import db
from contest.models import Asset, Contest, Entry, Vote, VoteToken, new_public_id, utcnow
from contest.services import votes
from contest.storage import get_storage


def _entry(app, entry_id: int) -> Entry:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        db.session.expunge(entry)
        return entry


def test_the_gallery_shows_only_approved_consenting_entries(app, client, make_entry):
    shown = make_entry(title="보이는 작품", consent_publish=True, display="approved")
    hidden = [
        make_entry(title="승인 전 작품", consent_publish=True),
        make_entry(title="숨긴 작품", consent_publish=True, display="hidden"),
        make_entry(title="비동의 작품", display="approved"),
        make_entry(
            title="제외된 작품", consent_publish=True, display="approved", status="rejected"
        ),
    ]
    page = client.get("/gallery")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "보이는 작품" in html
    for title in ("승인 전 작품", "숨긴 작품", "비동의 작품", "제외된 작품"):
        assert title not in html
    assert client.get(f"/gallery/{_entry(app, shown).public_id}").status_code == 200
    for entry_id in hidden:
        assert client.get(f"/gallery/{_entry(app, entry_id).public_id}").status_code == 404


def test_names_are_masked_and_the_receipt_never_shows(app, client, make_entry):
    entry_id = make_entry(entrant_name="홍길동", consent_publish=True, display="approved")
    entry = _entry(app, entry_id)
    for url in ("/gallery", f"/gallery/{entry.public_id}"):
        html = client.get(url).get_data(as_text=True)
        assert "홍*동" in html
        assert "홍길동" not in html
        assert entry.receipt not in html and entry.receipt_display not in html
        assert entry.email not in html and entry.original_filename not in html


def test_the_public_id_reveals_neither_the_receipt_nor_the_count(app, client, make_entry):
    ids = [make_entry(consent_publish=True, display="approved") for _ in range(3)]
    entries = [_entry(app, i) for i in ids]
    public = [e.public_id for e in entries]
    assert len(set(public)) == 3
    for entry in entries:
        assert entry.receipt not in entry.public_id
        assert str(entry.id) != entry.public_id
        assert len(entry.public_id) >= 16  # random, about 96 bits
        # The receipt code and the row number do not open the page.
        assert client.get(f"/gallery/{entry.receipt}").status_code == 404
        assert client.get(f"/gallery/{entry.id}").status_code == 404


def test_a_public_id_never_begins_like_a_spreadsheet_formula():
    # The exports list entries by public id; "-..." would need an apostrophe to stay text.
    # One id in 32 began with "-" or "_" before: 2,000 of them all but surely include one.
    ids = [new_public_id() for _ in range(2000)]
    assert all(public_id[0].isalnum() for public_id in ids)
    assert all(len(public_id) == 16 for public_id in ids)


def test_the_gallery_is_light_on_phones_and_paged(make_app, make_entry):
    app = make_app(GALLERY_PER_PAGE=2)
    client = app.test_client()
    ids = [make_entry(consent_publish=True, display="approved") for _ in range(3)]
    public = {_entry(app, i).public_id for i in ids}
    seen = []
    for page in (1, 2):
        html = client.get(f"/gallery?category=photo&page={page}").get_data(as_text=True)
        images = re.findall(r"<img [^>]*>", html)
        assert images and all('loading="lazy"' in img for img in images)
        assert all(re.search(r'width="\d+" height="\d+"', img) for img in images)
        # Thumbnails, never the original.
        assert all("/media/derived/" in img for img in images)
        seen += re.findall(r'href="/gallery/([\w-]+)"', html)
    assert sorted(seen) == sorted(public)  # every entry once over the pages
    assert client.get("/gallery?page=99999999999999999999999").status_code == 400
    assert client.get("/gallery?page=9").status_code == 200


def test_a_video_plays_from_its_playable_copy_or_shows_its_poster(app, client, make_entry):
    entry_id = make_entry(kind="video", consent_publish=True, display="approved")
    entry = _entry(app, entry_id)
    html = client.get(f"/gallery/{entry.public_id}").get_data(as_text=True)
    assert "<video" not in html and "재생할 수 있게 준비" in html
    with app.app_context():
        key = get_storage().new_key("derived", ".mp4")
        get_storage().put(b"\x00\x00\x00\x18ftypmp42", key)
        db.session.add(
            Asset(entry_id=entry_id, role="playback", key=key, content_type="video/mp4", size=12)
        )
        row = db.session.get(Entry, entry_id)
        row.playback_status = "ready"
        db.session.commit()
    html = client.get(f"/gallery/{entry.public_id}").get_data(as_text=True)
    assert "<video" in html and f"/media/{key}" in html


def test_counts_are_not_public_while_voting_is_open(app, client, make_entry):
    entry_id = make_entry(consent_publish=True, display="approved")
    entry = _entry(app, entry_id)
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        (token,) = votes.make_tokens(contest, 1, 10, None)
        db.session.add(
            Vote(token_id=token.id, entry_id=entry_id, ordinal=1, address_digest="x" * 64)
        )
        db.session.commit()
    assert "받은 표" not in client.get(f"/gallery/{entry.public_id}").get_data(as_text=True)
    with app.app_context():
        contest = db.session.scalar(select(Contest))
        contest.voting_opens_at = utcnow() - timedelta(days=2)
        contest.voting_closes_at = utcnow() - timedelta(days=1)
        db.session.commit()
    html = client.get(f"/gallery/{entry.public_id}").get_data(as_text=True)
    assert "받은 표: 1표" in html
    # A voided card's vote drops out of the public count too.
    with app.app_context():
        db.session.scalar(select(VoteToken)).voided_at = utcnow()
        db.session.commit()
    assert "받은 표: 0표" in client.get(f"/gallery/{entry.public_id}").get_data(as_text=True)


def test_a_held_card_shows_its_votes_left_and_a_vote_button(app, client, make_entry):
    entry_id = make_entry(consent_publish=True, display="approved")
    entry = _entry(app, entry_id)
    page = client.get(f"/gallery/{entry.public_id}").get_data(as_text=True)
    assert "이 작품에 투표하기" not in page
    with app.app_context():
        (token,) = votes.make_tokens(db.session.scalar(select(Contest)), 1, 10, None)
        code = token.token
        db.session.commit()
    client.get(f"/vote/{code}")
    page = client.get(f"/gallery/{entry.public_id}").get_data(as_text=True)
    assert "3표 가운데 3표 남음" in page and "이 작품에 투표하기" in page
    voted = client.post(f"/gallery/{entry.public_id}/vote")
    assert voted.status_code == 201
    assert "2표 남음" in voted.get_data(as_text=True)
    assert "이 작품에 투표했습니다" in voted.get_data(as_text=True)
