"""axe-core on the pages each kind of user sees: no serious or critical violation."""

from __future__ import annotations

import pytest

from .conftest import ADMIN, DESKTOP, LAPTOP_1440, describe_violations, login, run_axe
from .test_admin_tables import scored_entries

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


def _admin_page(path):
    def open_page(site, browsing):
        page = browsing.page(LAPTOP_1440)
        login(page, ADMIN)
        page.goto(path(site) if callable(path) else path)
        return page

    return open_page


def _scored_entry(site) -> str:
    return f"/admin/entries/{scored_entries(site, 1)[0]}"


PAGES = {
    "landing": _visit("/"),
    "submit": _visit("/submit"),
    "receipt": _receipt,
    "login": _visit("/login", DESKTOP),
    "judge-entry": _judge_entry,
    "judge-help": _judge_entry_with("?", "help-dialog"),
    "judge-zoom": _judge_entry_with("z", "zoom-dialog"),
    "admin": _admin,
    "admin-entries": _admin_page("/admin/entries?q=010"),
    "admin-entry": _admin_page(_scored_entry),
    "admin-leaderboard": _admin_page("/admin/leaderboard"),
    "admin-awards": _admin_page("/admin/awards"),
    # The fair's first round (init-db seeds it): its jury and calibration pages.
    "admin-jury": _admin_page("/admin/rounds/1/jury"),
    "admin-calibration": _admin_page("/admin/rounds/1/calibration"),
    "landing-1440": _visit("/", LAPTOP_1440),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_accessibility_violations(site, browsing, name):
    page = PAGES[name](site, browsing)
    page.wait_for_load_state("load")
    browsing.shot(page, name)
    violations = run_axe(page)
    assert violations == [], describe_violations(page.url, violations)


# The hero's background is a gradient, on which axe cannot measure contrast (it reports such
# text as "incomplete", not as a violation): its text is measured here against both ends.
HERO_CONTRAST = """() => {
    const hero = document.querySelector('.hero');
    const stops = getComputedStyle(hero).backgroundImage.match(/rgba?\\([^)]*\\)/g);
    const channels = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const luminance = c => {
        const [r, g, b] = channels(c).map(v => v / 255)
            .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
        const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
        return (hi + 0.05) / (lo + 0.05);
    };
    return [...hero.querySelectorAll('h1, p, dt, dd, a')]
        .filter(el => el.innerText.trim() && !el.closest('.form-error, .button'))
        .map(el => ({text: el.innerText.trim().slice(0, 30),
                     ratio: Math.min(...stops.map(s => ratio(getComputedStyle(el).color, s)))}));
}"""


@pytest.mark.parametrize("device", [None, LAPTOP_1440], ids=["phone", "1440"])
def test_the_landing_page_labels_meet_aa_contrast_on_the_hero(site, browsing, device):
    page = browsing.page(device)
    page.goto("/")
    measured = page.evaluate(HERO_CONTRAST)
    assert any(m["text"] == "행사" for m in measured), measured  # the facts' labels are checked
    low = [m for m in measured if m["ratio"] < 4.5]
    assert low == [], f"text below WCAG AA (4.5:1) on the hero: {low}"
