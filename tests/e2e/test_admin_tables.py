"""The organisers' tables at a 1440 px laptop: every word whole, headers on one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from .conftest import ADMIN, JUDGES, LAPTOP_1440, login

pytestmark = pytest.mark.slow

# As long as the form allows a title: the column that takes the room from the others.
LONG_TITLE = (
    "코엑스 체험마당 입구에서 바라본 아침 풍경과 줄 선 사람들, "
    "그리고 정부3.0 안내 부스 앞에서 기다리는 가족들의 즐거운 모습"
)
LONG_COMMENT = (
    "구도와 빛이 좋고 주제에 잘 맞습니다. 다만 오른쪽 아래 사람들의 얼굴이 흐립니다. " * 6
)

# Every text cell of the page's tables: how many lines it takes and how many words it has.
# A cell may break between words, never inside one (a column squeezed to one syllable a line).
CELL_LINES = """() => [...document.querySelectorAll('main table th, main table td')]
  .flatMap(cell => {
    const text = cell.innerText.trim();
    if (!text) return [];
    const tops = [];
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        if (!walker.currentNode.textContent.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(walker.currentNode);
        for (const rect of range.getClientRects()) {
            if (rect.width > 0 && !tops.some(top => Math.abs(top - rect.top) < 6)) {
                tops.push(rect.top);
            }
        }
    }
    return [{text, header: cell.tagName === 'TH', lines: tops.length,
             words: text.split(/\\s+/).length, width: cell.getBoundingClientRect().width}];
})"""


def scored_entries(site, count: int = 3) -> list[int]:
    """Fresh photo entries with long titles, scored by three judges with comments (below the
    other tests' favourites: totals of 6 or less)."""
    receipts = [site.add_photo_entry(f"{LONG_TITLE} {n}") for n in range(count)]
    round_id = site.query("SELECT id FROM round WHERE status = 'open'")[0][0]
    judges = [
        site.query('SELECT id FROM "user" WHERE username = :name', name=name)[0][0]
        for name in JUDGES[1:]
    ]
    ids = [site.query("SELECT id FROM entry WHERE receipt = :c", c=r)[0][0] for r in receipts]
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {"round": round_id, "entry": entry_id, "judge": judge, "now": now}
        | {"values": json.dumps(dict.fromkeys(("relevance", "creativity", "quality"), 6 - n))}
        | {"total": float(6 - n), "comment": LONG_COMMENT}
        for n, entry_id in enumerate(ids)
        for judge in judges
    ]
    site.execute(
        'INSERT INTO score (round_id, entry_id, judge_id, "values", total, comment,'
        " created_at, updated_at) VALUES (:round, :entry, :judge, :values, :total, :comment,"
        " :now, :now)",
        rows,
    )
    return ids


def test_admin_tables_keep_words_whole_at_1440_px(site, browsing):
    entry_id = scored_entries(site)[0]
    page = browsing.page(LAPTOP_1440)
    login(page, ADMIN)
    page.goto("/admin/awards")
    if page.locator('main a[href$="/awards/propose"]').count():  # not yet published
        page.click('main a[href$="/awards/propose"]')  # the summary, then the proposal itself
        page.wait_for_url("**/admin/awards/propose")
        with page.expect_navigation():
            page.click('main form[action$="/awards/propose"] button[type=submit]')
    for path in (
        "/admin",
        "/admin/entries",
        f"/admin/entries/{entry_id}",
        "/admin/leaderboard",
        "/admin/awards",
        "/admin/judging",
    ):
        page.goto(path)
        page.wait_for_load_state("load")
        browsing.shot(page, path.strip("/").replace("/", "-"))
        cells = page.evaluate(CELL_LINES)
        assert cells, f"no table on {path}"
        split = [c for c in cells if c["lines"] > c["words"]]
        assert split == [], f"{path}: words broken inside table cells: {split[:5]}"
        wrapped_headers = [c for c in cells if c["header"] and c["lines"] > 1]
        assert wrapped_headers == [], f"{path}: headers wrapped: {wrapped_headers[:5]}"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1440, path
    page.goto("/admin/leaderboard")
    assert page.locator(f'main a[href="/admin/entries/{entry_id}"] img').count() == 1
