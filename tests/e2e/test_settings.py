"""An organiser setting up the fair in a real browser: the contest settings page, then the
poster, whose QR code (read back from a screenshot, as a phone would) points at PUBLIC_URL."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ..server_helpers import flask
from .conftest import ADMIN, DESKTOP, describe_violations, login, run_axe

pytestmark = pytest.mark.slow

PUBLIC = "https://booth.example.kr"


def _decode_qr(png: bytes) -> str:
    """What the code in a screenshot says, or "" when none can be read.

    OpenCV's classic detector misses some codes at some sizes (the site's URL, and so the
    pattern, changes with its port): the screenshot is tried as it is and enlarged, with the
    classic detector and the ArUco-based one, as a phone's scanner tries frame after frame.
    """
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    for scale in (1, 2, 3):
        sized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
            data, _points, _code = detector.detectAndDecode(sized)
            if data:
                return data
    return ""


def test_an_admin_sets_the_public_url_and_the_poster_qr_code_follows(browsing, site):
    page = browsing.page(DESKTOP)
    login(page, ADMIN)
    try:
        # Without a public address the poster warns on the screen, never on paper.
        page.goto("/admin/poster")
        warning = page.locator(".poster-warning")
        assert warning.is_visible()
        assert f"{site.url}/submit" in warning.inner_text()
        assert _decode_qr(page.locator("svg.qr").screenshot()) == f"{site.url}/submit"
        page.emulate_media(media="print")
        assert not warning.is_visible()
        assert page.locator("svg.qr").is_visible()
        page.emulate_media(media="screen")

        page.goto("/admin/contest")
        violations = run_axe(page)
        assert violations == [], describe_violations(page.url, violations)
        page.fill("#title_en", "Government 3.0 Fair UCC Contest (booth)")
        page.fill("#public_url", PUBLIC + "/")
        page.fill("#categories-0-tiers-2-count", "-1")
        browsing.watch.expect_refusal(400, "/admin/contest")
        with page.expect_navigation():
            page.locator("#settings-form button[type=submit]").click()
        # Refused next to the field, what was typed kept, nothing saved.
        error = page.locator("#categories-0-tiers-2-count-error")
        assert "0 이상" in error.inner_text()
        assert page.get_attribute("#categories-0-tiers-2-count", "aria-invalid") == "true"
        assert page.input_value("#public_url") == PUBLIC + "/"
        assert site.query("SELECT public_url FROM contest") == [(None,)]
        browsing.shot(page, "refused")

        page.fill("#categories-0-tiers-2-count", "3")
        with page.expect_navigation():
            page.locator("#settings-form button[type=submit]").click()
        assert "설정을 저장했습니다." in page.locator(".flash").inner_text()
        assert page.input_value("#public_url") == PUBLIC
        assert site.query("SELECT public_url FROM contest") == [(PUBLIC,)]
        tiers = site.query(
            "SELECT award_tier.count FROM award_tier JOIN category"
            " ON category.id = award_tier.category_id"
            " WHERE category.kind = 'photo' AND award_tier.slug = 'silver'"
        )
        assert tiers == [(3,)]
        actions = site.query("SELECT action FROM audit_log WHERE action = 'update-contest'")
        assert actions

        page.goto("/admin/poster")
        assert page.locator(".poster-warning").count() == 0
        assert page.locator(".poster-url").inner_text() == f"{PUBLIC}/submit"
        assert _decode_qr(page.locator("svg.qr").screenshot()) == f"{PUBLIC}/submit"
        browsing.shot(page, "poster")
    finally:
        # The site is shared by the session's other tests: put the settings back.
        for key, value in (
            ("public_url", ""),
            ("title_en", ""),
            ("photo.tiers.silver.count", "2"),
        ):
            done = flask(site.env, "contest", "set", key, value)
            assert done.returncode == 0, done.stdout + done.stderr
