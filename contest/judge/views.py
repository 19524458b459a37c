"""The judge's screens: dashboard, the next entry, scoring and recusal."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from contest.auth.guards import require_role
from contest.core import jobs
from contest.core.arguments import page_arg
from contest.core.database import write_transaction
from contest.core.extensions import db
from contest.core.responses import wants_json
from contest.core.stored_files import send_stored
from contest.judge.forms import formdata_from_json, score_form
from contest.models import Asset, Entry, Round, Score
from contest.services import calibration, judging, remarks, zoom
from contest.services.contests import current_contest
from contest.services.flags import JUDGE_KINDS, KIND_LABELS
from contest.services.rounds import SCORE_MAX, SCORE_MIN, active_round

bp = Blueprint("judge", __name__, url_prefix="/judge")
bp.before_request(require_role("judge"))

# The entry whose preview the last entry page preloaded: /judge/next picks it when it ties.
_PRELOADED = "judge_preloaded_entry"
# The entries this judge skipped for now in the open round, oldest first: {"round": id, "ids": []}.
# Kept in the session (this browser), not a table: a skip is a moment's choice, not a record,
# and needs no migration; on a second device the entry is simply not postponed there. The
# oldest drop out past SKIPPED_KEPT, back into the ordinary queue: a skip never loses an entry.
_SKIPPED = "judge_skipped_entries"
SKIPPED_KEPT = 200
SCORED_PER_PAGE = 50
NO_ROUND = _l("진행 중인 심사 라운드가 없습니다. 운영진이 라운드를 열면 심사할 수 있습니다.")
ROUND_CLOSED = _l("이 심사 라운드는 마감되었습니다. 점수를 저장하거나 바꿀 수 없습니다.")


@bp.get("")
def show_dashboard():
    """The judge's progress in the active round and the entries they already scored."""
    round_ = active_round(current_contest())
    if round_ is None:
        return render_template("judge/dashboard.html", round=None, message=str(NO_ROUND))
    if round_.method == "ranking":  # no queue to work through: one screen orders them all
        return redirect(url_for("judge.show_ranking"), 303)
    page = page_arg()
    categories = judging.progress(round_, g.user.id)
    scored = judging.scored_entries(
        round_, g.user.id, limit=SCORED_PER_PAGE, offset=(page - 1) * SCORED_PER_PAGE
    )
    return render_template(
        "judge/dashboard.html",
        round=round_,
        categories=categories,
        scored=scored,
        page=page,
        pages=max(-(-sum(c.scored for c in categories) // SCORED_PER_PAGE), 1),
        calibration_total=len(calibration.entry_ids(round_)),
        calibration_waiting=len(calibration.waiting_for(round_, g.user.id)),
        offset=calibration.offset_of(round_, g.user.id),
    )


@bp.get("/next")
def show_next():
    """Send the judge to the entry they should score next, or home when none is left."""
    round_ = active_round(current_contest())
    if round_ is None:
        flash(str(NO_ROUND), "error")
        return redirect(url_for("judge.show_dashboard"), 303)
    if round_.method == "ranking":
        return redirect(url_for("judge.show_ranking"), 303)
    preloaded = session.pop(_PRELOADED) if _PRELOADED in session else None
    entry_id = judging.next_entry_id(round_, g.user.id, prefer=preloaded, later=_skipped(round_))
    if entry_id is None:
        flash(_("모든 작품을 심사했습니다."), "success")
        return redirect(url_for("judge.show_dashboard"), 303)
    return redirect(url_for("judge.show_entry", entry_id=entry_id), 303)


@bp.get("/entries/<int:entry_id>")
def show_entry(entry_id: int):
    """One entry, large, with this judge's score form (pre-filled when they scored it)."""
    round_ = active_round(current_contest()) or abort(404)
    entry = judging.entry_for_judging(round_, entry_id) or abort(404)
    if round_.method == "ranking":  # entries are opened large on the ranking screen itself
        return redirect(url_for("judge.show_ranking", _anchor=f"entry-{entry.id}"), 303)
    if judging.is_recused(entry.id, g.user.id):
        return render_template("judge/recused.html"), 403
    return entry_page(round_, entry)


@bp.get("/entries/<int:entry_id>/full")
def show_full(entry_id: int):
    """The photo at full resolution (metadata-free), for zooming in; never the original file."""
    round_ = active_round(current_contest()) or abort(404)
    entry = judging.entry_for_judging(round_, entry_id) or abort(404)
    if judging.is_recused(entry.id, g.user.id):
        abort(403)
    asset = zoom.recorded_copy(entry)
    if asset is not None:
        response = send_stored(asset.key, mimetype=asset.content_type, max_age=3600)
    else:
        original_key = zoom.original_to_zoom(entry) or abort(404)
        db.session.rollback()  # no transaction stays open through the full-size decode
        copy = zoom.make_copy(entry_id, original_key)
        jobs.enqueue_zoom_copy(copy)  # a worker records it: this GET writes no row
        response = Response(copy.data, mimetype=copy.content_type)
        response.cache_control.max_age = 3600
    response.cache_control.private = True  # judges only: no shared cache may keep it
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/entries/<int:entry_id>/score")
def score_entry(entry_id: int):
    """Save or revise this judge's score, then go on to the next entry."""
    data = _posted()
    round_ = active_round(current_contest())
    if round_ is None or str(data.get("round_id", round_.id)) != str(round_.id):
        # The page was opened in a round that has since closed: never score it in another.
        return _refused({"_form": [str(ROUND_CLOSED)]}, 409)
    entry = judging.entry_for_judging(round_, entry_id) or abort(404)
    form = score_form(round_)(data)
    try:
        # A recused judge is told so (409) whatever they typed, before the typing is checked.
        judging.refuse_unless_scorable(round_, entry, g.user)
        if not form.validate():
            return _refused(form.field_errors(), 400, round_, entry, data)
        with write_transaction():
            # save_score checks the round and the recusal again, now under the write lock.
            judging.save_score(round_, entry, g.user, form.values(), form.comment.data)
    except judging.ScoreRefused as why:
        return _refused({"_form": [str(why)]}, why.status, round_, entry, data)
    _unskip(round_, entry.id)
    if wants_json():
        return jsonify(saved=True, next=url_for("judge.show_next"))
    return redirect(url_for("judge.show_next"), 303)


@bp.post("/entries/<int:entry_id>/skip")
def skip_entry(entry_id: int):
    """Skip an entry for now: /judge/next hands it out again once the judge's others are done."""
    round_ = active_round(current_contest())
    if round_ is None:
        return _refused({"_form": [str(ROUND_CLOSED)]}, 409)
    entry = judging.entry_for_judging(round_, entry_id) or abort(404)
    skipped = [i for i in _skipped(round_) if i != entry.id] + [entry.id]
    session[_SKIPPED] = {"round": round_.id, "ids": skipped[-SKIPPED_KEPT:]}
    if wants_json():
        return jsonify(skipped=True, next=url_for("judge.show_next"))
    return redirect(url_for("judge.show_next"), 303)


@bp.post("/entries/<int:entry_id>/recuse")
def recuse_entry(entry_id: int):
    """Declare a conflict of interest: the entry leaves this judge's queue and aggregates."""
    with write_transaction():
        round_ = active_round(current_contest())
        if round_ is None:
            return _refused({"_form": [str(ROUND_CLOSED)]}, 409)
        entry = judging.entry_for_judging(round_, entry_id) or abort(404)
        judging.recuse(entry, g.user)
    if wants_json():
        return jsonify(recused=True, next=url_for("judge.show_next"))
    flash(_("회피 신청을 기록했습니다. 이 작품은 더 이상 보이지 않습니다."), "success")
    return redirect(url_for("judge.show_next"), 303)


def _skipped(round_: Round) -> list[int]:
    """The entries this judge skipped for now in this round, oldest first (see `_SKIPPED`)."""
    kept = session.get(_SKIPPED)
    if not isinstance(kept, dict) or kept.get("round") != round_.id:
        return []  # nothing, or skips from a round since closed
    return [i for i in kept.get("ids", []) if isinstance(i, int)]


def _unskip(round_: Round, entry_id: int) -> None:
    """Drop a scored entry from the skipped ones, so the list holds only what still waits."""
    skipped = _skipped(round_)
    if entry_id in skipped:
        skipped.remove(entry_id)
        session[_SKIPPED] = {"round": round_.id, "ids": skipped}


def _posted() -> MultiDict:
    """The posted fields, from a form or a JSON body, as a MultiDict for the score form."""
    if request.is_json:
        return formdata_from_json(request.get_json(silent=True))
    return request.form


def _refused(
    errors: dict[str, list[str]],
    status: int,
    round_: Round | None = None,
    entry: Entry | None = None,
    data: MultiDict | None = None,
):
    """A refused score: JSON errors, or the entry page again with the messages by the fields."""
    if wants_json():
        return jsonify(errors=errors), status
    if round_ is None or entry is None:
        message = " ".join(m for ms in errors.values() for m in ms)
        return render_template("errors/error.html", status=status, message=message), status
    if judging.is_recused(entry.id, g.user.id):
        return render_template("judge/recused.html"), status
    return entry_page(round_, entry, errors=errors, data=data, status=status)


def entry_page(
    round_: Round,
    entry: Entry,
    errors: dict | None = None,
    data: MultiDict | None = None,
    note: str | None = None,
    status: int = 200,
):
    """Render the entry page: the media, the form, the ← → neighbours and the next preload,
    and the judge's own note and flags (`note`: the refused text to show again)."""
    score = judging.score_of(round_, entry.id, g.user.id)
    sequence = judging.scored_sequence(round_, g.user.id)
    prev_id, next_url = _neighbours(sequence, entry.id)
    later = _skipped(round_)
    coming = judging.next_entry_id(round_, g.user.id, exclude=entry.id, later=later)
    if coming is not None:
        session[_PRELOADED] = coming
    return (
        render_template(
            "judge/entry.html",
            round=round_,
            entry=entry,
            score=score,
            chosen=_chosen(score, data),
            comment=(data or {}).get("comment", score.comment if score else ""),
            errors=errors or {},
            prev_url=url_for("judge.show_entry", entry_id=prev_id) if prev_id else None,
            next_url=next_url,
            position=(sequence.index(entry.id) + 1) if entry.id in sequence else None,
            scored_count=len(sequence),
            preview=entry.asset("preview"),
            playback=entry.asset("playback"),
            next_preview=_preview_key(coming),
            skipped=entry.id in later,
            score_range=range(SCORE_MIN, SCORE_MAX + 1),
            note=remarks.note_of(entry.id, g.user.id) if note is None else note,
            note_max=remarks.NOTE_MAX,
            flagged=remarks.kinds_flagged(entry.id, g.user.id),
            flag_kinds=[(kind, KIND_LABELS[kind]) for kind in JUDGE_KINDS],
            calibrating=entry.id in calibration.entry_ids(round_),
        ),
        status,
    )


def _neighbours(sequence: list[int], entry_id: int) -> tuple[int | None, str | None]:
    """← and →: the scored entries either side; past the last one, → is the next new entry."""
    if entry_id not in sequence:
        return (sequence[-1] if sequence else None), None
    i = sequence.index(entry_id)
    prev_id = sequence[i - 1] if i > 0 else None
    if i + 1 < len(sequence):
        return prev_id, url_for("judge.show_entry", entry_id=sequence[i + 1])
    return prev_id, url_for("judge.show_next")


def _chosen(score: Score | None, data: MultiDict | None) -> dict[str, str]:
    """What the form shows selected: the refused input when re-rendering, else the saved score."""
    if data is not None:
        return {k: str(v) for k, v in data.items() if k != "comment" and v is not None}
    if score is None:
        return {}
    values = dict(score.values)
    if "verdict" in values:
        values["verdict"] = "y" if values["verdict"] else "n"
    return {k: str(v) for k, v in values.items()}


def _preview_key(entry_id: int | None) -> str | None:
    """The key of an entry's preview (a photo's 1600 px JPEG or a video's poster)."""
    if entry_id is None:
        return None
    return db.session.scalar(
        select(Asset.key).where(Asset.entry_id == entry_id, Asset.role == "preview")
    )


# These modules' routes join this blueprint: a ranking round's screen; the remarks (a private
# note, a flag to the organisers).
from contest.judge import ranking_screen  # noqa: E402, F401
from contest.judge import remarks as _remarks  # noqa: E402, F401
