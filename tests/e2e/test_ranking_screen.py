"""The judge's ranking screen in Chromium: finalists put in order with the keyboard alone,
and with the mouse.

The site is shared by the whole e2e session, so the test opens its own ranking round over
its own entries (closing the open round for the while) and gives everything back after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ..photos import photo_bytes
from ..server_helpers import Visitor, visitor_fields
from .conftest import DESKTOP, login

pytestmark = pytest.mark.slow

_numbers = iter(range(9100, 9200))  # phones and e-mails no other test's visitor uses


def _enter(site, title: str) -> int:
    n = next(_numbers)
    fields = visitor_fields(n) | {"title": title}
    with Visitor(site.port) as visitor:
        response = visitor.post_entry(fields, photo_bytes(seed=n))
    assert response.status == 201, response.text
    receipt = json.loads(response.body)["receipt"]
    return site.query("SELECT id FROM entry WHERE receipt = :code", code=receipt)[0][0]


@pytest.fixture
def ranking_round(site) -> Iterator[tuple[int, list[int]]]:
    """A ranking round, open, holding four new entries: (round id, entry ids by id)."""
    entries = [_enter(site, f"결선 사진 {n}") for n in range(1, 5)]
    (contest_id, number), *_ = site.query("SELECT contest_id, MAX(number) FROM round GROUP BY 1")
    was_open = [row[0] for row in site.query("SELECT id FROM round WHERE status = 'open'")]
    site.execute("UPDATE round SET status = 'closed' WHERE id = :id", [{"id": i} for i in was_open])
    site.execute(
        "INSERT INTO round (contest_id, number, name, method, status, takes_all_entries)"
        " VALUES (:contest, :number, :name, 'ranking', 'open', :all)",
        [{"contest": contest_id, "number": number + 1, "name": "결선", "all": False}],
    )
    (round_id,), *_ = site.query("SELECT id FROM round WHERE number = :n", n=number + 1)
    site.execute(
        "INSERT INTO round_entry (round_id, entry_id) VALUES (:round, :entry)",
        [{"round": round_id, "entry": e} for e in entries],
    )
    try:
        yield round_id, entries
    finally:
        site.execute("DELETE FROM judge_ranking WHERE round_id = :id", [{"id": round_id}])
        site.execute("DELETE FROM round_entry WHERE round_id = :id", [{"id": round_id}])
        site.execute("DELETE FROM round WHERE id = :id", [{"id": round_id}])
        site.execute(
            "UPDATE round SET status = 'open' WHERE id = :id", [{"id": i} for i in was_open]
        )


def _focused(page) -> str | None:
    return page.evaluate("() => document.activeElement.getAttribute('data-entry-id')")


def _shown(page) -> list[int]:
    return [
        int(i)
        for i in page.eval_on_selector_all(
            ".ranking-item", "items => items.map(i => i.getAttribute('data-entry-id'))"
        )
    ]


def test_a_judge_orders_the_finalists_with_the_keyboard_only_and_the_order_is_saved(
    site, browsing, ranking_round
):
    round_id, (e1, e2, e3, e4) = ranking_round
    page = browsing.page(DESKTOP)
    login(page, "judge4")
    page.goto("/judge/ranking")
    assert _shown(page) == [e1, e2, e3, e4]

    # Tab to the first entry: no mouse from here on.
    for _ in range(60):
        page.keyboard.press("Tab")
        if _focused(page) == str(e1):
            break
    assert _focused(page) == str(e1)

    # Third entry: pick up, two places up, put down → e3, e1, e2, e4.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert _focused(page) == str(e3)
    page.keyboard.press("Space")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    assert _shown(page) == [e3, e1, e2, e4]
    assert _focused(page) == str(e3)

    # e2 sent to place 4 by typing its number → e3, e1, e4, e2.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert _focused(page) == str(e2)
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    expected = [e3, e1, e4, e2]
    assert _shown(page) == expected
    assert page.locator("#order").input_value() == ",".join(map(str, expected))
    assert page.locator(f"#ranking-place-{e2}").inner_text() == "4"

    # Saved as it changed: the screen says so and the database holds exactly this order.
    page.wait_for_function(
        "(order) => document.getElementById('ranking-screen')"
        ".getAttribute('data-saved-order') === order",
        arg=",".join(map(str, expected)),
    )
    page.wait_for_function(
        "() => document.getElementById('ranking-status').textContent.includes('저장했습니다')"
    )
    (saved,), *_ = site.query(
        'SELECT entry_ids FROM judge_ranking jr JOIN "user" u ON u.id = jr.judge_id'
        " WHERE jr.round_id = :round AND u.username = 'judge4'",
        round=round_id,
    )
    assert (json.loads(saved) if isinstance(saved, str) else saved) == expected
    browsing.shot(page, "ordered")

    # O opens the focused entry large; Esc closes it. C on two entries compares them.
    page.keyboard.press("o")
    assert page.locator("#ranking-viewer").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#ranking-viewer").is_visible()
    # Keys go where the focus is: wait until closing the viewer has given it back to the entry
    # (a busy machine runs the next key press first, and "c" then reached nothing).
    page.wait_for_function(
        "(id) => document.activeElement.getAttribute('data-entry-id') === id", arg=str(e2)
    )
    page.keyboard.press("c")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("c")
    page.wait_for_function(
        "() => document.querySelectorAll('#ranking-viewer-frames figure').length === 2"
    )
    assert page.locator("#ranking-viewer").is_visible()
    browsing.shot(page, "compare")
    page.keyboard.press("Escape")
    page.wait_for_function(
        "(id) => document.activeElement.getAttribute('data-entry-id') === id", arg=str(e4)
    )

    # A key pressed as the viewer closes, before its close event has run, keeps the focus where
    # it took it: the viewer closed from e4, an arrow key straight away, and the focus stays on
    # e1 (a judge's quick Esc then arrow once ran into the focus being taken back).
    page.keyboard.press("o")
    focused_after_close = page.evaluate(
        """() => new Promise((done) => {
            const viewer = document.getElementById('ranking-viewer');
            viewer.addEventListener('close', () => done(
                document.activeElement.getAttribute('data-entry-id')), {once: true});
            viewer.close();
            document.activeElement.dispatchEvent(
                new KeyboardEvent('keydown', {key: 'ArrowLeft', bubbles: true}));
        })"""
    )
    assert focused_after_close == str(e1)

    # A reload shows the saved order.
    page.reload()
    assert _shown(page) == expected


def test_a_judge_drags_an_entry_with_the_mouse_and_the_order_is_saved(
    site, browsing, ranking_round
):
    round_id, (e1, e2, e3, e4) = ranking_round
    page = browsing.page(DESKTOP)
    login(page, "judge3")
    page.goto("/judge/ranking")
    # The last entry dropped on the left half of the first one lands before it.
    page.drag_and_drop(f"#entry-{e4}", f"#entry-{e1}", target_position={"x": 10, "y": 40})
    expected = [e4, e1, e2, e3]
    assert _shown(page) == expected
    page.wait_for_function(
        "(order) => document.getElementById('ranking-screen')"
        ".getAttribute('data-saved-order') === order",
        arg=",".join(map(str, expected)),
    )
    (saved,), *_ = site.query(
        'SELECT entry_ids FROM judge_ranking jr JOIN "user" u ON u.id = jr.judge_id'
        " WHERE jr.round_id = :round AND u.username = 'judge3'",
        round=round_id,
    )
    assert (json.loads(saved) if isinstance(saved, str) else saved) == expected
