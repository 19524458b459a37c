"""The booth's live wall in Chromium at 1920x1080: an entry appears once an admin approves it
(with the keyboard, on /admin/wall), and goes again when it is hidden."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from contest.services.awards import mask_name

from ..photos import photo_bytes
from ..server_helpers import Visitor, visitor_fields
from .conftest import ADMIN, LAPTOP_1440, login

pytestmark = pytest.mark.slow

TV = {"viewport": {"width": 1920, "height": 1080}, "locale": "ko-KR"}
PORTRAIT = {"viewport": {"width": 1080, "height": 1920}, "locale": "ko-KR"}
_numbers = itertools.count(8600)  # phones and e-mails no other test of the session uses


def consenting_entry(site, title: str) -> tuple[int, str, str]:
    """A fresh photo entry whose entrant agreed to publication: its id, public id and the
    entrant's name."""
    n = next(_numbers)
    fields = {**visitor_fields(n), "title": title, "consent_publish": "y"}
    with Visitor(site.port) as visitor:
        response = visitor.post_entry(fields, photo_bytes(seed=n))
    assert response.status == 201, response.text
    receipt = json.loads(response.body)["receipt"]
    ((entry_id, public_id),) = site.query(
        "SELECT id, public_id FROM entry WHERE receipt = :r", r=receipt
    )
    return entry_id, public_id, fields["name"]


def test_the_wall_shows_an_entry_within_two_seconds_of_its_approval(browsing, site):
    entry_id, public_id, name = consenting_entry(site, "라이브 월에 오를 사진")
    card = f'.wall-card[data-public-id="{public_id}"]'

    wall = browsing.page(TV)
    wall.goto("/wall")
    wall.locator("#wall-grid[data-cards]").wait_for(state="attached")  # the list is loaded
    assert wall.locator(card).count() == 0  # not approved yet
    qr = wall.locator(".wall-call svg.qr").bounding_box()
    assert qr["width"] >= 100 and qr["y"] + qr["height"] <= 1080  # the corner QR code, on screen

    admin = browsing.page(LAPTOP_1440)
    login(admin, ADMIN)
    admin.goto("/admin/wall")
    item = admin.locator(f'.wall-queue-item[data-entry="{entry_id}"]')
    item.locator(".wall-queue-text").click()  # this entry becomes the current one
    admin.keyboard.press("a")
    approved = time.monotonic()
    admin.locator(f'.wall-queue-item[data-entry="{entry_id}"][data-display="approved"]').wait_for()
    assert site.query("SELECT display FROM entry WHERE id = :i", i=entry_id) == [("approved",)]

    wall.locator(card).wait_for(state="visible", timeout=5000)
    seconds = time.monotonic() - approved
    assert seconds < 2, f"the wall showed it after {seconds:.1f} s"
    assert wall.locator(f"{card} .wall-card-title").inner_text() == "라이브 월에 오를 사진"
    shown_name = wall.locator(f"{card} .wall-card-name").inner_text()
    assert shown_name == mask_name(name) and shown_name != name  # 방문객8600 → 방*****0
    box = wall.locator(card).bounding_box()
    assert box["width"] > 300 and box["x"] + box["width"] <= 1920
    browsing.shot(wall, "approved")

    # The same screen turned on its side: the card and the QR code both fit.
    portrait = browsing.page(PORTRAIT)
    portrait.goto("/wall")
    portrait.locator(card).wait_for(state="visible")
    box = portrait.locator(card).bounding_box()
    qr = portrait.locator(".wall-call svg.qr").bounding_box()
    assert box["x"] + box["width"] <= 1080 and box["y"] + box["height"] <= qr["y"]
    assert qr["y"] + qr["height"] <= 1920
    browsing.shot(portrait, "portrait")

    # Hidden again: it leaves the wall just as fast.
    admin.goto("/admin/wall?state=approved")
    admin.locator(f'.wall-queue-item[data-entry="{entry_id}"] .wall-queue-text').click()
    admin.keyboard.press("h")
    wall.locator(card).wait_for(state="detached", timeout=2500)
