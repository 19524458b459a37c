"""The public gallery: the entries on display, by category, a page at a time.

Which entries is `display.on_display` (the same rule as the booth's wall). The order is by
public id: random but stable, so paging never skips or repeats an entry, a new entry lands
anywhere rather than always on top, and no entry gets the first page (and the most votes)
for being early or late.
"""

from __future__ import annotations

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from contest.core.extensions import db
from contest.models import Category, Contest, Entry
from contest.services.display import on_display


def categories(contest: Contest) -> list[Category]:
    """The categories the gallery offers: those taking entries, and any with entries on show."""
    shown = set(
        db.session.scalars(
            select(Entry.category_id)
            .where(Entry.contest_id == contest.id, on_display())
            .group_by(Entry.category_id)
        )
    )
    return [c for c in contest.categories if c.enabled or c.id in shown]


def page_of(category: Category, page: int, per_page: int) -> Pagination:
    """One page of the category's entries on display (past the last page: an empty one)."""
    query = (
        select(Entry)
        .where(Entry.category_id == category.id, on_display())
        .options(selectinload(Entry.assets))
        .order_by(Entry.public_id)
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False, count=True)


def find(contest: Contest, public_id: str) -> Entry | None:
    """The entry on display with this public id, or None (also for one not on display)."""
    if not public_id or len(public_id) > 24:
        return None
    return db.session.scalar(
        select(Entry)
        .where(Entry.contest_id == contest.id, Entry.public_id == public_id, on_display())
        .options(selectinload(Entry.assets))
    )
