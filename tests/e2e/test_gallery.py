"""A visitor on a phone scans a vote card, browses the gallery and votes for an entry."""

from __future__ import annotations

import pytest

from ..server_helpers import flask
from .conftest import describe_violations, run_axe

pytestmark = pytest.mark.slow


def test_a_visitor_scans_a_vote_card_and_votes_on_a_phone(site, browsing):
    title = "갤러리 투표 e2e 작품"
    receipt = site.add_photo_entry(title)
    # The wall's admin page approves entries for display; here the row is set directly.
    site.execute(
        "UPDATE entry SET display = 'approved', consent_publish = :yes WHERE receipt = :receipt",
        [{"receipt": receipt, "yes": True}],
    )
    made = flask(site.env, "vote-tokens", "--count", "1")
    assert made.returncode == 0, made.stderr
    card = made.stdout.split()[-1]

    page = browsing.page()
    page.goto(f"/vote/{card}")
    assert page.url.endswith("/gallery")
    assert "3표 가운데 3표 남음" in page.content()
    link = page.get_by_role("link", name=title)
    image = link.locator("img")
    assert image.get_attribute("loading") == "lazy"
    assert image.get_attribute("width") and image.get_attribute("height")
    # Light on a phone: nothing wider than the screen.
    assert page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    violations = run_axe(page)
    assert violations == [], describe_violations(page.url, violations)
    browsing.shot(page, "gallery")

    with page.expect_navigation():
        link.tap()
    assert title in page.locator("h1").inner_text()
    violations = run_axe(page)
    assert violations == [], describe_violations(page.url, violations)
    with page.expect_navigation():
        page.get_by_role("button", name="이 작품에 투표하기").tap()
    assert "투표했습니다" in page.content()
    assert "3표 가운데 2표 남음" in page.content()
    browsing.shot(page, "voted")

    counted = site.query(
        "SELECT count(*) FROM vote JOIN vote_token ON vote_token.id = vote.token_id"
        " JOIN entry ON entry.id = vote.entry_id"
        " WHERE vote_token.token = :card AND entry.receipt = :receipt",
        card=card,
        receipt=receipt,
    )
    assert counted == [(1,)]
