"""axe-core on the pages each kind of user sees: no serious or critical violation."""

from __future__ import annotations

import pytest

from .conftest import ADMIN, DESKTOP, describe_violations, login, run_axe

pytestmark = pytest.mark.slow


def _receipt(site, browsing):
    page = browsing.page()
    page.goto(f"/receipt/{site.add_photo_entry('접근성 점검용 사진')}")
    page.wait_for_function("() => document.querySelector('img.thumb').naturalWidth > 0")
    return page


def _judge_entry(site, browsing):
    receipt = site.add_photo_entry("심사 화면 점검용 사진")
    entry_id = site.query("SELECT id FROM entry WHERE receipt = :code", code=receipt)[0][0]
    page = browsing.page(DESKTOP)
    login(page, "judge4")
    page.goto(f"/judge/entries/{entry_id}")
    return page


def _judge_entry_with(key: str, dialog: str):
    """The judge's entry page with a dialog opened from the keyboard (? help, Z zoom)."""

    def open_page(site, browsing):
        page = _judge_entry(site, browsing)
        page.keyboard.press(key)
        page.wait_for_function(f"() => document.getElementById('{dialog}').open")
        return page

    return open_page


def _admin(site, browsing):
    page = browsing.page(DESKTOP)
    login(page, ADMIN)
    page.goto("/admin")
    return page


def _visit(path, device=None):
    def open_page(site, browsing):
        page = browsing.page(device)
        page.goto(path)
        return page

    return open_page


PAGES = {
    "landing": _visit("/"),
    "submit": _visit("/submit"),
    "receipt": _receipt,
    "login": _visit("/login", DESKTOP),
    "judge-entry": _judge_entry,
    "judge-help": _judge_entry_with("?", "help-dialog"),
    "judge-zoom": _judge_entry_with("z", "zoom-dialog"),
    "admin": _admin,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_accessibility_violations(site, browsing, name):
    page = PAGES[name](site, browsing)
    page.wait_for_load_state("load")
    browsing.shot(page, name)
    violations = run_axe(page)
    assert violations == [], describe_violations(page.url, violations)
