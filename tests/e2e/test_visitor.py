"""A visitor on a phone: entering a photo and withdrawing it, a refused file, a video entry."""

from __future__ import annotations

import os
import re
import signal
import time
import weakref
from contextlib import contextmanager

import pytest

from ..media.videogen import write_clip
from ..photos import photo_bytes

pytestmark = pytest.mark.slow

_numbers = iter(range(100, 10_000))


def _fill_entrant(page, title: str) -> dict[str, str]:
    """Type the text fields and tick the required consent, as a visitor does; returns them."""
    n = next(_numbers)
    typed = {
        "#title": title,
        "#name": f"홍길동{n}",
        "#phone": f"010-7{n % 1000:03d}-{n % 10000:04d}",
        "#email": f"e2e-visitor{n}@example.com",
    }
    for selector, value in typed.items():
        page.fill(selector, value)
    page.check("#consent")
    page.check("#declaration")
    return typed


def _receipt_code(url: str) -> str:
    return re.search(r"/receipt/([^/?#]+)", url).group(1)


def _throttle_uploads(page, bytes_per_second: int) -> None:
    """Make the upload slow enough to watch the progress bar (Chromium's network emulation).

    -1 lifts the limit: a test that has seen what it watches for lets the rest of the bytes
    go at full speed rather than wait for them (seconds per test).
    """
    if (cdp := _network_sessions.get(page)) is None:
        cdp = _network_sessions[page] = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 20 if bytes_per_second > 0 else 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


_network_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def test_a_visitor_enters_a_photo_and_withdraws_it(site, browsing):
    page = browsing.page()
    page.goto("/")
    browsing.shot(page, "landing")

    with page.expect_navigation():
        page.locator('main a.button-primary[href="/submit"]').tap()
    assert page.url.endswith("/submit")

    # A big phone photo (a few MB) over a throttled link, so the progress can be seen rising.
    photo = photo_bytes(size=(3000, 2250), seed=4242, quality=97)
    assert len(photo) > 1_500_000, len(photo)
    # Throttled before the file is picked: the page starts uploading it at once (tus).
    _throttle_uploads(page, 400_000)
    page.set_input_files(
        "#media", files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    _fill_entrant(page, "광화문 광장의 아침")
    browsing.shot(page, "form-filled")

    page.locator("#submit-button").tap()
    page.wait_for_selector("#upload-status", state="visible")
    seen = []
    while len(seen) < 60 and "/receipt/" not in page.url:
        try:
            seen.append(page.eval_on_selector("#upload-progress", "p => p.value"))
        except Exception:  # the page navigated to the receipt between two looks
            break
        if len(seen) == 3:
            browsing.shot(page, "uploading")
        if seen[-1] >= 100:
            break
        page.wait_for_timeout(150)
    assert any(0 < v < 100 for v in seen), f"no partial progress seen: {seen}"
    assert seen == sorted(seen) and seen[-1] > seen[0], f"progress did not rise: {seen}"

    page.wait_for_url("**/receipt/**", timeout=60_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('img.thumb');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    code = _receipt_code(page.url)
    shown = page.inner_text(".receipt-code")
    assert re.sub(r"[^0-9A-Z]", "", shown.upper()) == re.sub(r"[^0-9A-Z]", "", code.upper())
    assert site.query("SELECT title FROM entry WHERE receipt = :code", code=code) == [
        ("광화문 광장의 아침",)
    ]
    browsing.shot(page, "receipt")

    with page.expect_navigation():
        page.locator(f'main a[href$="/receipt/{code}/withdraw"]').tap()
    browsing.shot(page, "withdraw-confirm")
    with page.expect_navigation():
        page.locator('main form[action$="/withdraw"] button[type=submit]').tap()
    browsing.shot(page, "withdrawn")
    assert site.query("SELECT id FROM entry WHERE receipt = :code", code=code) == []

    browsing.watch.expect_refusal(410, f"/receipt/{code}")
    gone = page.goto(f"/receipt/{code}")
    assert gone.status == 410  # withdrawn, not unknown
    browsing.shot(page, "receipt-gone")


GIF = photo_bytes("GIF", size=(1200, 900), seed=77)


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        pytest.param("IMG_0002.jpg", GIF, 415, id="gif-named-jpg"),
        pytest.param("IMG_0003.jpg", photo_bytes(size=(640, 480), seed=78), 422, id="too-small"),
    ],
)
def test_a_refused_file_shows_why_by_the_file_field_and_keeps_the_typing(
    site, browsing, name, content, status
):
    page = browsing.page()
    page.goto("/submit")
    page.set_input_files(
        "#media", files=[{"name": name, "mimeType": "image/jpeg", "buffer": content}]
    )
    typed = _fill_entrant(page, "거절될 작품")
    # The browser cannot tell; the server's background check of the finished upload may already
    # have (/uploads/<id>/check), and then its message stands by the file field before submit.
    early = page.inner_text("#media-error").strip()

    browsing.watch.expect_refusal(status, "/submit")
    posted = lambda r: r.url.endswith("/submit") and r.request.method == "POST"  # noqa: E731
    with page.expect_response(posted) as answer:
        page.locator("#submit-button").tap()
    assert answer.value.status == status, answer.value.text()
    message = page.locator("#media-error")
    message.wait_for(state="visible")
    assert message.inner_text().strip(), "no message by the file field"
    assert early in ("", message.inner_text().strip())  # the same words, sooner
    assert page.get_attribute("#media", "aria-invalid") == "true"
    browsing.shot(page, "refused")

    assert page.url.endswith("/submit")
    for selector, value in typed.items():
        assert page.input_value(selector) == value, selector
    assert page.is_checked("#consent")
    assert page.is_hidden("#upload-status")
    assert page.is_enabled("#submit-button")


@contextmanager
def _worker_paused(site, upload_name: str):
    """Hold the job worker still (SIGSTOP), so a job cannot finish before we look.

    First the worker records its background check of the upload named `upload_name`: stopped
    while it records that, it would hold the site's write lock, and the submit would fail
    waiting for it (it did, on a busy machine).
    """
    for _ in range(600):
        latest = site.query(
            "SELECT check_state FROM upload WHERE filename = :name"
            " ORDER BY created_at DESC LIMIT 1",
            name=upload_name,
        )
        if latest and latest[0][0] in ("ok", "refused"):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the worker never checked {upload_name}")
    worker = site.processes[0]
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(worker.pid, signal.SIGCONT)


def test_a_video_receipt_updates_itself_once_its_playback_copy_is_made(site, browsing, tmp_path):
    clip = write_clip(tmp_path / "VID_0001.mp4", seconds=2.0)
    page = browsing.page()
    page.goto("/submit")
    page.set_input_files("#media", str(clip))
    _fill_entrant(page, "체험마당 영상")

    with _worker_paused(site, clip.name):
        page.locator("#submit-button").tap()
        page.wait_for_url("**/receipt/**", timeout=60_000)
        badge = page.locator(".status-badge.status-processing")
        assert badge.is_visible()
        assert "처리 중" in badge.inner_text()
        assert page.locator("video").count() == 0
        page.wait_for_function(
            "() => { const i = document.querySelector('img.thumb');"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        browsing.shot(page, "processing")
        # Without JS the visitor still sees the note that the video is being prepared.
        no_js = browsing.page(java_script_enabled=False)
        no_js.goto(page.url)
        assert "처리 중" in no_js.locator("[role=status]").inner_text()
        assert no_js.locator("video").count() == 0

    # Nobody reloads: the page asks for the status (with back-off) and shows the player itself.
    receipt_url = page.url
    page.wait_for_selector("video source", state="attached", timeout=90_000)
    assert page.url == receipt_url
    assert page.locator(".status-processing").count() == 0
    status = page.request.get(receipt_url + "/status")
    assert status.json() == {"playback": "ready"}
    played = page.evaluate(
        """async () => {
            const video = document.querySelector("video");
            video.muted = true;  // the autoplay policy lets muted video play without a gesture
            await video.play();
            return {src: video.currentSrc, error: video.error && video.error.code};
        }"""
    )
    assert played["error"] is None and "/media/" in played["src"], played
    page.wait_for_function("() => document.querySelector('video').readyState >= 2")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.2")
    browsing.shot(page, "playing")
