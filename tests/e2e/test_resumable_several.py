"""Several works picked at once survive the venue's network: each upload pauses offline and goes
on once online."""

from __future__ import annotations

import hashlib

import pytest

from ..photos import photo_bytes
from .test_visitor import _throttle_uploads

pytestmark = pytest.mark.slow

WORK_BARS = "() => [...document.querySelectorAll('#works progress')].map(p => p.value)"


def _fill_entrant_once(page, n: int) -> None:
    """The entrant's own fields, typed once for every work."""
    page.fill("#name", f"홍여럿{n}")
    page.fill("#phone", f"010-7{n % 1000:03d}-{n:04d}")
    page.fill("#email", f"e2e-several{n}@example.com")
    page.check("#consent")


def _entries(site, codes: list[str]) -> list[tuple[str, str]]:
    """(title, sha256) of this test's entries only: the browser tests share one site."""
    return sorted(
        site.query("SELECT title, sha256 FROM entry WHERE receipt = :c", c=c)[0] for c in codes
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_several_uploads_pause_offline_and_all_complete_once_online(site, browsing):
    photos = [photo_bytes(size=(3000, 2250), seed=s, quality=97) for s in (4747, 4748)]
    titles = ("끊긴 첫 작품", "끊긴 둘째 작품")
    page = browsing.page()
    page.goto("/submit")
    _throttle_uploads(page, 250_000)
    page.set_input_files(
        "#media",
        files=[
            {"name": f"IMG_04{n}.jpg", "mimeType": "image/jpeg", "buffer": photo}
            for n, photo in enumerate(photos)
        ],
    )
    for n, title in enumerate(titles):
        page.fill(f"#works-{n}-title", title)
    _fill_entrant_once(page, 4747)
    page.wait_for_function(f"() => ({WORK_BARS})().every(v => v >= 10)")

    page.context.set_offline(True)
    page.wait_for_function(
        "() => { const said = [...document.querySelectorAll('#works [id$=\"-status\"]')];"
        " return said.length === 2 && said.every(s => s.textContent.includes('끊겼습니다')); }"
    )
    paused_at = page.evaluate(WORK_BARS)
    assert len(paused_at) == 2 and all(v < 100 for v in paused_at), paused_at
    browsing.shot(page, "offline")
    page.locator("#submit-button").tap()  # submitted while offline: sent once every file is up
    page.wait_for_timeout(1500)
    assert page.evaluate(WORK_BARS) == paused_at  # nothing moves while offline
    assert page.is_disabled("#submit-button")
    assert "끊겼습니다" in page.inner_text("#upload-progress-text")

    page.context.set_offline(False)
    page.wait_for_url("**/receipts/**", timeout=120_000)
    codes = page.url.rsplit("/", 1)[1].split(",")
    assert _entries(site, codes) == sorted(zip(titles, map(_sha, photos), strict=True))
    browsing.shot(page, "receipts")
    # What going offline logs in the console (requests cut by the network) is expected here.
    browsing.watch.problems[:] = [
        p for p in browsing.watch.problems if "ERR_INTERNET_DISCONNECTED" not in p
    ]
