"""A phone losing its network mid-upload: the page pauses, resumes from the offset once back
online, and the entry completes with the very bytes picked (tus-js-client, /uploads)."""

from __future__ import annotations

import hashlib

import pytest

from ..photos import photo_bytes
from .test_visitor import _fill_entrant, _receipt_code, _throttle_uploads

pytestmark = pytest.mark.slow


def test_an_upload_pauses_offline_and_completes_once_online(site, browsing):
    page = browsing.page()
    page.goto("/submit")
    if not page.evaluate("() => typeof window.tus === 'object'"):
        pytest.fail("contest/static/vendor/tus.min.js is missing: run `make install`")
    photo = photo_bytes(size=(3000, 2250), seed=4343, quality=97)
    _throttle_uploads(page, 250_000)
    page.set_input_files(
        "#media", files=[{"name": "IMG_0100.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    _fill_entrant(page, "끊겼다 이어진 업로드")
    page.wait_for_function("() => document.querySelector('#upload-progress').value >= 20")
    text = page.inner_text("#upload-progress-text")
    assert "/초" in text and "남은 시간" in text, text  # speed and time left
    browsing.shot(page, "uploading")

    page.context.set_offline(True)
    page.wait_for_function(
        "() => document.querySelector('#upload-progress-text').textContent.includes('끊겼습니다')"
    )
    paused_at = page.eval_on_selector("#upload-progress", "p => p.value")
    assert paused_at < 100
    browsing.shot(page, "offline")
    page.locator("#submit-button").tap()  # submitted while offline: sent once the file is up
    page.wait_for_timeout(1500)
    assert page.eval_on_selector("#upload-progress", "p => p.value") == paused_at

    page.context.set_offline(False)
    _throttle_uploads(page, -1)  # the rest at full speed: the pause and its resumption were seen
    page.wait_for_url("**/receipt/**", timeout=90_000)
    code = _receipt_code(page.url)
    assert site.query("SELECT sha256 FROM entry WHERE receipt = :code", code=code) == [
        (hashlib.sha256(photo).hexdigest(),)
    ]
    assert site.query("SELECT count(*) FROM upload") == [(0,)]
    browsing.shot(page, "receipt")
    # What going offline logs in the console (requests cut by the network) is expected here.
    browsing.watch.problems[:] = [
        p for p in browsing.watch.problems if "ERR_INTERNET_DISCONNECTED" not in p
    ]


def test_after_a_reload_the_same_file_resumes_from_the_offset(site, browsing, tmp_path):
    photo = photo_bytes(size=(3000, 2250), seed=4444, quality=97)
    picked = tmp_path / "IMG_0200.jpg"  # a real file: its modification time is in the fingerprint
    picked.write_bytes(photo)
    page = browsing.page()
    page.goto("/submit")
    _throttle_uploads(page, 250_000)
    # At least one whole chunk (1 MiB) stored: nginx passes gunicorn only whole requests.
    stored = lambda r: r.request.method == "PATCH" and r.status == 204  # noqa: E731
    with page.expect_response(stored, timeout=30_000):
        page.set_input_files("#media", str(picked))

    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda r: sent.append((r.method, r.headers.get("upload-offset"))))
    page.reload()
    _throttle_uploads(page, 2_000_000)
    page.set_input_files("#media", str(picked))
    _fill_entrant(page, "새로 고친 뒤 이어 올린 사진")
    page.locator("#submit-button").tap()
    page.wait_for_url("**/receipt/**", timeout=90_000)

    patches = [int(offset) for method, offset in sent if method == "PATCH"]
    assert patches and patches[0] > 0, sent  # went on from where it stood, not from zero
    creations = [m for m, _ in sent if m == "POST"]
    assert len(creations) == 1, sent  # the form's post only: no new upload was created
    code = _receipt_code(page.url)
    assert site.query("SELECT sha256 FROM entry WHERE receipt = :code", code=code) == [
        (hashlib.sha256(photo).hexdigest(),)
    ]


def test_two_files_picked_at_once_upload_each_and_make_two_entries(site, browsing):
    photos = [photo_bytes(size=(1600, 1200), seed=s) for s in (4545, 4546)]
    page = browsing.page()
    page.goto("/submit")
    page.set_input_files(
        "#media",
        files=[
            {"name": f"IMG_03{n}.jpg", "mimeType": "image/jpeg", "buffer": photo}
            for n, photo in enumerate(photos)
        ],
    )
    assert page.is_hidden("#title")  # each work has its own title instead
    for n, title in enumerate(("첫 작품", "둘째 작품")):
        page.fill(f"#works-{n}-title", title)
    page.fill("#works-1-description", "두 번째 설명")
    # The entrant's fields once (the single work's title is hidden and not sent).
    page.fill("#name", "홍여럿")
    page.fill("#phone", "010-7999-0001")
    page.fill("#email", "e2e-several@example.com")
    page.check("#consent")
    page.check("#declaration")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#works progress')].every(p => p.value === 100)"
    )
    browsing.shot(page, "two-works")
    page.locator("#submit-button").tap()
    page.wait_for_url("**/receipts/**", timeout=90_000)
    codes = page.url.rsplit("/", 1)[1].split(",")
    assert len(codes) == 2
    # The browser tests share one site: only this test's two entries.
    rows = [site.query("SELECT title, sha256 FROM entry WHERE receipt = :c", c=c)[0] for c in codes]
    assert sorted(rows) == sorted(
        [
            ("첫 작품", hashlib.sha256(photos[0]).hexdigest()),
            ("둘째 작품", hashlib.sha256(photos[1]).hexdigest()),
        ]
    )
    assert site.query("SELECT count(*) FROM upload") == [(0,)]
    browsing.shot(page, "receipts")
