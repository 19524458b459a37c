"""The judge's screen on a 1440×900 laptop: zoom view, shortcut help, video keys, skipping."""

from __future__ import annotations

import json
import re

import pytest

from ..media.videogen import write_clip
from ..photos import photo_bytes
from ..server_helpers import Visitor, visitor_fields
from .conftest import DESKTOP, login, wait_for

pytestmark = pytest.mark.slow

LAPTOP = {**DESKTOP, "viewport": {"width": 1440, "height": 900}}
_numbers = iter(range(8000, 9000))  # phones and e-mails no other test's visitor uses


def _enter(site, media: bytes, title: str) -> int:
    """Enter a file the quick way (multipart over HTTP); returns the entry's id."""
    fields = visitor_fields(next(_numbers)) | {"title": title}
    with Visitor(site.port) as visitor:
        response = visitor.post_entry(fields, media)
    assert response.status == 201, response.text
    receipt = json.loads(response.body)["receipt"]
    return site.query("SELECT id FROM entry WHERE receipt = :code", code=receipt)[0][0]


def _entry_page(browsing, judge: str, entry_id: int):
    page = browsing.page(LAPTOP)
    login(page, judge)
    page.goto(f"/judge/entries/{entry_id}")
    return page


def _box(page, selector: str) -> dict:
    return page.evaluate(
        """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
            return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; }""",
        selector,
    )


def _within_viewport(box: dict) -> bool:
    return box["left"] >= 0 and box["top"] >= 0 and box["right"] <= 1440 and box["bottom"] <= 900


def _scroll(page) -> tuple[float, float]:
    return tuple(
        page.evaluate(
            "() => { const f = document.getElementById('zoom-frame');"
            " return [f.scrollLeft, f.scrollTop]; }"
        )
    )


def _pan(page, key: str) -> tuple[float, float]:
    """Press a pan key; returns how far the zoom frame scrolled (x, y)."""
    before = _scroll(page)
    page.keyboard.press(key)
    page.wait_for_function(
        "([x, y]) => { const f = document.getElementById('zoom-frame');"
        " return f.scrollLeft !== x || f.scrollTop !== y; }",
        arg=list(before),
    )
    after = _scroll(page)
    return after[0] - before[0], after[1] - before[1]


def test_zoom_opens_fitted_then_pans_at_full_size_with_arrows_or_wasd_and_esc_leaves(
    site, browsing
):
    entry_id = _enter(site, photo_bytes(size=(3600, 2400), seed=8101), "크게 볼 사진")
    page = _entry_page(browsing, "judge3", entry_id)
    url = page.url
    focused = "() => { const e = document.activeElement; return [e.tagName, e.name, e.value]; }"
    before = page.evaluate(focused)
    assert before[:2] == ["INPUT", "relevance"]  # the first score, ready for a digit

    page.keyboard.press("z")
    page.wait_for_function("() => document.getElementById('zoom-dialog').open")
    # Fitted: the whole picture in the screen, nothing to scroll.
    assert _within_viewport(_box(page, "#zoom-frame")), _box(page, "#zoom-frame")
    assert _within_viewport(_box(page, "#zoom-photo"))
    fitted = page.evaluate(
        "() => { const f = document.getElementById('zoom-frame');"
        " return f.scrollWidth <= f.clientWidth && f.scrollHeight <= f.clientHeight; }"
    )
    assert fitted
    page.wait_for_function(
        "() => document.getElementById('zoom-photo').getAttribute('data-loaded') === 'full'"
    )
    assert page.evaluate("() => document.getElementById('zoom-photo').naturalWidth") == 3600
    browsing.shot(page, "zoom-fitted")

    page.keyboard.press("z")  # 100%: the photo overflows the screen, centred
    assert page.get_attribute("#zoom-scale", "aria-pressed") == "true"
    assert _within_viewport(_box(page, "#zoom-frame"))
    left, top = _scroll(page)
    assert left > 0 and top > 0, (left, top)
    browsing.shot(page, "zoom-actual-size")

    assert _pan(page, "ArrowRight")[0] > 0
    assert _pan(page, "ArrowLeft")[0] < 0
    assert _pan(page, "ArrowDown")[1] > 0
    assert _pan(page, "ArrowUp")[1] < 0
    assert _pan(page, "d")[0] > 0
    assert _pan(page, "a")[0] < 0
    assert _pan(page, "s")[1] > 0
    assert _pan(page, "w")[1] < 0
    assert page.url == url  # the arrows panned, they did not go to another entry

    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('zoom-dialog').open")
    assert page.url == url
    assert page.evaluate(focused) == before  # back where the judge was: digits score again
    assert site.query("SELECT count(*) FROM score WHERE entry_id = :id", id=entry_id) == [(0,)]


def test_question_mark_lists_every_key_on_one_screen_but_not_while_typing(site, browsing):
    entry_id = _enter(site, photo_bytes(seed=8102), "도움말 볼 사진")
    page = _entry_page(browsing, "judge3", entry_id)

    page.keyboard.press("?")
    page.wait_for_function("() => document.getElementById('help-dialog').open")
    box = _box(page, "#help-dialog")
    assert _within_viewport(box), box
    assert page.evaluate(
        "() => { const d = document.getElementById('help-dialog');"
        " return d.scrollHeight <= d.clientHeight; }"
    ), "the help needs scrolling"
    keys = set(page.locator("#help-dialog dt kbd").all_inner_texts())
    for key in ("1", "9", "0", "Tab", "Enter", "Ctrl", "←", "→", "↑", "↓", "P", "?", "Esc"):
        assert key in keys, key
    for key in ("Z", "W", "A", "S", "D", "Space", "K", "J", "L"):
        assert key in keys, key
    browsing.shot(page, "help")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('help-dialog').open")
    page.keyboard.press("?")
    page.wait_for_function("() => document.getElementById('help-dialog').open")
    page.keyboard.press("?")  # ? closes it again
    page.wait_for_function("() => !document.getElementById('help-dialog').open")

    # In the comment box the keys are text: no help, no zoom, no skip.
    url = page.url
    page.click("#comment")
    page.keyboard.type("?zpZ 1 wasd")
    assert page.input_value("#comment") == "?zpZ 1 wasd"
    assert not page.evaluate("() => document.getElementById('help-dialog').open")
    assert not page.evaluate("() => document.getElementById('zoom-dialog').open")
    assert page.url == url


def test_p_skips_for_now_and_asks_first_when_a_score_is_unsaved(site, browsing):
    for n in range(2):
        _enter(site, photo_bytes(seed=8110 + n), f"건너뛸 사진 {n}")
    page = browsing.page(LAPTOP)
    login(page, "judge3")
    page.goto("/judge/next")
    first = int(re.search(r"/judge/entries/(\d+)$", page.url).group(1))

    page.keyboard.press("7")  # a score chosen, not saved: P asks, and No keeps the page
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.keyboard.press("p")
    page.wait_for_timeout(300)
    assert page.url.endswith(f"/judge/entries/{first}")

    page.goto(f"/judge/entries/{first}")  # untouched again: P goes straight on
    with page.expect_navigation():
        page.keyboard.press("p")
    page.wait_for_load_state()
    second = int(re.search(r"/judge/entries/(\d+)$", page.url).group(1))
    assert second != first
    browsing.shot(page, "after-skip")


def test_space_plays_and_pauses_a_video_and_j_l_seek_five_seconds(site, browsing, tmp_path):
    clip = write_clip(tmp_path / "VID_0002.mp4", seconds=14.0, fps=10)
    entry_id = _enter(site, clip.read_bytes(), "심사할 영상")
    wait_for(
        lambda: site.query(
            "SELECT count(*) FROM asset WHERE entry_id = :id AND role = 'playback'", id=entry_id
        )[0][0],
        90,
        "the playback copy (is `flask worker` running?)",
    )
    page = _entry_page(browsing, "judge3", entry_id)
    page.wait_for_function("() => document.getElementById('entry-video').readyState >= 1")
    page.evaluate("() => { document.getElementById('entry-video').muted = true; }")
    paused = "() => document.getElementById('entry-video').paused"

    page.keyboard.press("Space")  # the focus is on the first score: still the video's key
    page.wait_for_function(f"() => !({paused})()")
    assert page.locator('input[type="radio"]:checked').count() == 0
    page.keyboard.press("Space")
    page.wait_for_function(paused)
    page.keyboard.press("k")
    page.wait_for_function(f"() => !({paused})()")
    page.keyboard.press("k")
    page.wait_for_function(paused)

    def now() -> float:
        return page.evaluate("() => document.getElementById('entry-video').currentTime")

    start = now()
    page.keyboard.press("l")
    page.wait_for_function(
        "(t) => Math.abs(document.getElementById('entry-video').currentTime - t) < 0.6",
        arg=start + 5,
    )
    page.keyboard.press("l")
    page.wait_for_function(
        "(t) => Math.abs(document.getElementById('entry-video').currentTime - t) < 0.6",
        arg=start + 10,
    )
    page.keyboard.press("j")
    page.wait_for_function(
        "(t) => Math.abs(document.getElementById('entry-video').currentTime - t) < 0.6",
        arg=start + 5,
    )
    browsing.shot(page, "video")
