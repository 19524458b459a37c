"""Staff at a laptop: a judge scoring by keyboard alone, an admin from moderation to the export."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pytest

from .conftest import ADMIN, DESKTOP, JUDGES, login

pytestmark = pytest.mark.slow

CRITERIA = ("relevance", "creativity", "quality")  # the seeded round's criteria, in order
WEIGHTS = {"relevance": 40, "creativity": 30, "quality": 30}


def _entry_id(url: str) -> int:
    return int(re.search(r"/judge/entries/(\d+)$", url).group(1))


def _focused_criterion(page) -> str | None:
    return page.evaluate(
        "() => { const f = document.activeElement && document.activeElement.closest"
        " && document.activeElement.closest('.judge-criterion');"
        " return f ? f.dataset.criterion : null; }"
    )


def _chosen(page) -> dict[str, int]:
    """The values the score form shows selected."""
    return {
        slug: int(page.get_attribute(f'input[name="{slug}"]:checked', "value"))
        for slug in CRITERIA
        if page.locator(f'input[name="{slug}"]:checked').count()
    }


def _type_score(page, digits: str) -> dict[str, int]:
    """Score the criteria in order with the keyboard only: a digit, Tab, a digit, Tab, ..."""
    for i, (slug, digit) in enumerate(zip(CRITERIA, digits, strict=True)):
        if i:
            page.keyboard.press("Tab")
        assert _focused_criterion(page) == slug, f"focus is not on {slug}"
        page.keyboard.press(digit)
    return {slug: 10 if d == "0" else int(d) for slug, d in zip(CRITERIA, digits, strict=True)}


def _save_with_enter(page) -> int:
    """Press Enter; returns the entry the judge lands on next."""
    before = page.url
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.url != before
    return _entry_id(page.url)


def test_a_judge_scores_three_entries_by_keyboard_and_revises_one(site, browsing):
    for n in range(4):  # one more than the judge scores, so Enter lands on a new entry
        site.add_photo_entry(f"심사할 사진 {n}")
    judge_id = site.query('SELECT id FROM "user" WHERE username = :name', name="judge1")[0][0]
    page = browsing.page(DESKTOP)
    login(page, "judge1")

    with page.expect_navigation():
        page.goto("/judge/next")
    current = _entry_id(page.url)
    scored: dict[int, dict[str, int]] = {}
    for digits in ("789", "406", "253"):
        values = _type_score(page, digits)
        assert _chosen(page) == values
        browsing.shot(page, f"scoring-{current}")
        scored[current] = values
        current = _save_with_enter(page)
    assert current not in scored
    assert len(scored) == 3

    # ← twice: from the new entry back to the last scored one, then to the one before it.
    order = list(scored)
    for expected in (order[2], order[1]):
        with page.expect_navigation():
            page.keyboard.press("ArrowLeft")
        assert _entry_id(page.url) == expected
    revised = order[1]
    assert _chosen(page) == scored[revised]  # the saved score, shown again
    assert _focused_criterion(page) == "relevance"
    page.keyboard.press("3")
    scored[revised] = {**scored[revised], "relevance": 3}
    browsing.shot(page, f"revising-{revised}")
    _save_with_enter(page)

    page.goto(f"/judge/entries/{revised}")
    assert _chosen(page) == scored[revised]
    total = sum(WEIGHTS[s] * v for s, v in scored[revised].items()) / 100
    assert f"{total:.1f}" in page.inner_text("#current-score")
    browsing.shot(page, "revised")

    rows = site.query(
        'SELECT entry_id, "values" FROM score WHERE judge_id = :judge ORDER BY id', judge=judge_id
    )
    # SQLite hands the JSON column back as text, PostgreSQL as the parsed value.
    read = {e: v if isinstance(v, dict) else json.loads(v) for e, v in rows}
    assert read == scored
    assert len(rows) == 3  # revising changed the row, it did not add one


def _score_as_other_judges(site, favourites: list[str]) -> None:
    """Judges 2-4 score every entry in the open round (written straight into the database):
    the favourites, in order, on top; everything else in the middle."""
    round_id = site.query("SELECT id FROM round WHERE status = 'open'")[0][0]
    judges = [
        site.query('SELECT id FROM "user" WHERE username = :name', name=name)[0][0]
        for name in JUDGES[1:]
    ]
    entries = site.query("SELECT id, receipt FROM entry WHERE status = 'submitted'")
    # Other tests of the session may have scored some entries already (one score per judge).
    done = set(site.query("SELECT entry_id, judge_id FROM score WHERE round_id = :r", r=round_id))
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC, as the app does
    rows = []
    for entry_id, receipt in entries:
        value = 10 - favourites.index(receipt) if receipt in favourites else 5
        values = json.dumps(dict.fromkeys(CRITERIA, value))
        for judge in judges:
            if (entry_id, judge) in done:
                continue
            rows.append(
                {"round": round_id, "entry": entry_id, "judge": judge, "values": values}
                | {"total": float(value), "now": now}
            )
    site.execute(
        'INSERT INTO score (round_id, entry_id, judge_id, "values", total, comment,'
        " created_at, updated_at) VALUES (:round, :entry, :judge, :values, :total, '',"
        " :now, :now)",
        rows,
    )


def _plain(receipt: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", receipt.upper())


def _download(page, link_selector: str) -> bytes:
    with page.expect_download() as info:
        page.click(link_selector)
    download = info.value
    assert download.failure() is None, download.failure()
    with open(download.path(), "rb") as f:
        return f.read()


def test_an_admin_rejects_an_entry_then_proposes_publishes_and_exports_the_winners(site, browsing):
    favourites = [site.add_photo_entry(f"수상 후보 {n}") for n in range(3)]
    unwanted = site.add_photo_entry("반려할 사진")
    unwanted_id = site.query("SELECT id FROM entry WHERE receipt = :code", code=unwanted)[0][0]
    page = browsing.page(DESKTOP)
    login(page, ADMIN)
    browsing.shot(page, "dashboard")

    page.goto(f"/admin/entries/{unwanted_id}")
    page.fill("#reason", "공모 주제와 관계없는 사진")
    with page.expect_navigation():
        page.click('main form[action$="/reject"] button[type=submit]')
    browsing.shot(page, "rejected")
    assert site.query(
        "SELECT status, rejected_reason FROM entry WHERE id = :id", id=unwanted_id
    ) == [("rejected", "공모 주제와 관계없는 사진")]

    _score_as_other_judges(site, favourites)
    page.goto("/admin/awards")
    page.click('main a[href$="/awards/propose"]')  # the summary to confirm first
    page.wait_for_url("**/admin/awards/propose")
    with page.expect_navigation():
        page.click('main form[action$="/awards/propose"] button[type=submit]')
    grand = page.locator('tr[data-tier="grand"] td[data-receipt]')
    grand_receipts = [grand.nth(i).get_attribute("data-receipt") for i in range(grand.count())]
    assert favourites[0] in grand_receipts
    assert page.locator(f'td[data-receipt="{unwanted}"]').count() == 0
    browsing.shot(page, "proposed")

    page.click('main a[href$="/awards/publish"]')
    page.wait_for_url("**/admin/awards/publish")
    with page.expect_navigation():
        page.click('main form[action$="/awards/publish"] button[type=submit]')
    assert site.query("SELECT results_published_at IS NOT NULL FROM contest") == [(1,)]
    browsing.shot(page, "published")

    csv = _download(page, 'main a[href$="/export/winners.csv"]')
    assert csv.startswith(b"\xef\xbb\xbf"), csv[:20]
    text = csv.decode("utf-8-sig")
    plain = _plain(text)
    assert all(_plain(r) in plain for r in favourites), text
    assert _plain(unwanted) not in plain

    archive = _download(page, 'main a[href$="/export/winners.zip"]')
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert any(n.endswith(".csv") for n in names), names
        originals = [n for n in names if not n.endswith(".csv")]
        assert any(_plain(favourites[0]) in _plain(n) for n in originals), names
