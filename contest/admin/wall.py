"""The wall's queue: organisers approve or hide each new entry before the public sees it.

Built to go fast (100 entries in 3 minutes): keyboard shortcuts and a fetch per decision in
admin_wall.js, with the same forms posting normally when scripts are off.
"""

from __future__ import annotations

from flask import flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField

from contest.admin import bp
from contest.core.arguments import page_arg
from contest.core.database import write_transaction
from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.core.responses import safe_next, wants_json
from contest.models import Entry, utcnow
from contest.services import display
from contest.services.awards import mask_name
from contest.services.contests import current_contest

PER_PAGE = 100
STATE_LABELS = {"pending": _l("새 작품"), "approved": _l("전시 중"), "hidden": _l("숨김")}


class DecisionForm(FlaskForm):
    """Approve or hide: the CSRF token (or the script's X-CSRFToken header), and the page to
    go back to when the form was posted without the script."""

    next = HiddenField()


@bp.get("/wall")
def show_wall_queue():
    """Entries whose entrants agreed to publication, by display state: new ones oldest first."""
    return _queue_page()


@bp.post("/wall/<int:entry_id>/approve")
def approve_for_wall(entry_id: int):
    """Put an entry on every wall and in the gallery."""
    return _decide(entry_id, display.approve, _("전시를 승인했습니다."))


@bp.post("/wall/<int:entry_id>/hide")
def hide_from_wall(entry_id: int):
    """Keep an entry off the walls and out of the gallery (walls showing it drop it)."""
    return _decide(entry_id, display.hide, _("전시하지 않도록 숨겼습니다."))


def _decide(entry_id: int, decide, done: str):
    entry = db.get_or_404(Entry, entry_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _refused(_("페이지가 오래되었습니다. 새로 고친 뒤 다시 해 주세요."), 400)
    try:
        with write_transaction():
            decide(entry, g.user, utcnow())
    except Refusal as why:
        return _refused(str(why.message), why.status)
    if wants_json():
        return jsonify(id=entry.id, public_id=entry.public_id, display=entry.display)
    flash(done, "success")
    return redirect(safe_next(form.next.data) or url_for("admin.show_wall_queue"), 303)


def _refused(message: str, status: int):
    if wants_json():
        return jsonify(error=message), status
    return _queue_page(error=message, status=status)


def _queue_page(error: str | None = None, status: int = 200):
    state = request.args.get("state", "pending")
    if state not in STATE_LABELS:
        state = "pending"
    page = db.paginate(
        display.decisions_query(current_contest(), state),
        page=page_arg(),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
    )
    return render_template(
        "admin/wall.html",
        page=page,
        state=state,
        state_labels=STATE_LABELS,
        form=DecisionForm(formdata=None),
        here=request.full_path.rstrip("?")
        if request.method == "GET"
        else safe_next(request.form.get("next")) or url_for("admin.show_wall_queue"),
        mask_name=mask_name,
        error=error,
    ), status
