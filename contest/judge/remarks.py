"""A judge's remarks on an entry: a private note, and a flag to the organisers with a reason."""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from contest.core.database import write_transaction
from contest.core.refusal import Refusal
from contest.core.responses import wants_json
from contest.judge.views import NO_ROUND, bp, entry_page
from contest.services import judging, remarks
from contest.services.contests import current_contest
from contest.services.rounds import active_round


@bp.post("/entries/<int:entry_id>/note")
def save_note(entry_id: int):
    """Keep the judge's private note on the entry (blank removes it); only they see it."""
    return _remark(
        entry_id,
        lambda entry: remarks.save_note(entry, g.user, _posted("note")),
        _("메모를 저장했습니다. 나만 볼 수 있습니다."),
    )


@bp.post("/entries/<int:entry_id>/flag")
def flag_entry(entry_id: int):
    """Tell the organisers something is wrong with the entry, with one of the set reasons."""
    return _remark(
        entry_id,
        lambda entry: remarks.flag_entry(entry, g.user, _posted("kind"), _posted("detail")),
        _("운영진에게 알렸습니다. 고맙습니다."),
    )


def _posted(name: str) -> str:
    """A text field from the form or a JSON body ("" when missing or not text)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    value = (data or {}).get(name, "")
    return value if isinstance(value, str) else ""


def _remark(entry_id: int, act, done: str):
    """Load the round and the entry (one the judge may see), act, commit, and answer."""
    round_ = active_round(current_contest())
    if round_ is None:
        if wants_json():
            return jsonify(error=str(NO_ROUND)), 409
        flash(str(NO_ROUND), "error")
        return redirect(url_for("judge.show_dashboard"), 303)
    entry = judging.entry_for_judging(round_, entry_id) or abort(404)
    if judging.is_recused(entry.id, g.user.id):
        abort(403)
    try:
        with write_transaction():
            act(entry)
    except Refusal as why:
        if wants_json():
            return jsonify(error=str(why), field=why.field), why.status
        # The entry page again, the message by the field and what was typed kept.
        errors = {why.field or "remark": [str(why)]}
        return entry_page(round_, entry, errors=errors, note=_posted("note"), status=why.status)
    if wants_json():
        return jsonify(saved=True)
    flash(done, "success")
    return redirect(url_for("judge.show_entry", entry_id=entry_id), 303)
