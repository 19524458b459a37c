"""The visible language switch: Korean first, English for foreign visitors, and back."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

TITLE_KO = "정부3.0 체험마당 UCC 공모전"
TITLE_EN = "Government 3.0 Experience Fair UCC Contest"

# Hangul syllables, jamo and compatibility jamo.
FIND_HANGUL = r"""() => {
    const hangul = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/;
    const found = [];
    const own = (el) => !el.closest('[lang]:not([lang^="en"])');  // e.g. the 한국어 link
    if (hangul.test(document.title)) found.push("<title>: " + document.title);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || ["SCRIPT", "STYLE"].includes(parent.tagName) || !own(parent)) continue;
        if (hangul.test(node.data))
            found.push(parent.tagName.toLowerCase() + ": " + node.data.trim());
    }
    const names = ["alt", "title", "placeholder", "aria-label", "value"];
    for (const el of document.body.querySelectorAll("*")) {
        if (!own(el) || el.type === "hidden") continue;
        for (const attr of el.attributes) {
            const shown = names.includes(attr.name) || attr.name.startsWith("data-msg-");
            if (shown && hangul.test(attr.value))
                found.push(el.tagName.toLowerCase() + "[" + attr.name + "]: " + attr.value);
        }
    }
    return found;
}"""


def _switch_to(page, code: str) -> None:
    before = page.url
    with page.expect_navigation():
        page.locator(f'nav.language-switch a[hreflang="{code}"]').tap()
    assert page.url == before  # back on the page the visitor was reading


def _header_title(page) -> str:
    return page.inner_text("header.site-header .container > a").strip()


def test_the_language_switch_turns_the_site_english_and_back(site, browsing):
    page = browsing.page()
    page.goto("/submit")
    assert page.get_attribute("html", "lang") == "ko"
    assert _header_title(page) == TITLE_KO
    assert page.inner_text('nav.language-switch a[hreflang="en"]').strip() == "English"

    _switch_to(page, "en")
    browsing.shot(page, "english")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text('nav.language-switch [aria-current="true"]').strip() == "English"
    assert page.inner_text('nav.language-switch a[hreflang="ko"]').strip() == "한국어"
    page.goto("/")  # the choice is remembered for the visit
    assert page.get_attribute("html", "lang") == "en"

    _switch_to(page, "ko")
    browsing.shot(page, "korean")
    assert page.get_attribute("html", "lang") == "ko"
    assert page.inner_text('nav.language-switch [aria-current="true"]').strip() == "한국어"
    assert _header_title(page) == TITLE_KO


def test_no_korean_is_left_on_the_english_entry_form(site, browsing):
    page = browsing.page()
    page.goto("/submit")
    _switch_to(page, "en")
    page.check("#under14")  # the guardian's fields too
    left = page.evaluate(FIND_HANGUL)
    browsing.shot(page, "english-form")
    assert left == [], "Korean left on the English /submit page:\n" + "\n".join(left)
    assert _header_title(page) == TITLE_EN
