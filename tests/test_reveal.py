"""The award ceremony's slides (/admin/reveal): published winners, from the lowest tier up."""

from __future__ import annotations

import re

from .test_awards import set_published
from .test_winners import award


def test_the_reveal_goes_category_by_category_from_the_lowest_tier_up(
    app, client, admin, make_entry
):
    assert "아직 발표한 수상작이 없습니다" in client.get("/admin/reveal").get_data(as_text=True)
    names = {}
    order = [("grand", 1), ("gold", 2), ("silver", 3), ("silver", 4), ("bronze", 5)]
    for tier, position in order:
        entry_id = make_entry(
            title=f"{tier}-{position}", entrant_name="홍길동", consent_publish=tier != "gold"
        )
        award(app, entry_id, tier, position)
        names[entry_id] = f"{tier}-{position}"
    set_published(app, True)

    page = client.get("/admin/reveal")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    tiers = re.findall(r'data-slide="\d+" data-tier="(\w+)"', text)
    assert tiers == ["bronze", "silver", "silver", "gold", "grand"]
    titles = re.findall(r'<p class="reveal-title">([^<]+)</p>', text)
    # Within a tier the lower-placed award first; the winner without consent shows no work.
    assert titles == ["bronze-5", "silver-4", "silver-3", "grand-1"]
    assert "gold-2" not in text and "수상자 (비공개)" in text
    assert "홍*동" in text and "홍길동" not in text
    assert text.count("data-src=") == 4  # pictures load ahead, not all at once
