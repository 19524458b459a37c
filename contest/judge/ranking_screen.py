"""The judge's ranking screen: the finalists of a ranking round, put in order and saved."""

from __future__ import annotations

from flask import flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from contest.core.arguments import ID_MAX
from contest.core.database import write_transaction
from contest.core.responses import wants_json
from contest.judge.views import NO_ROUND, bp
from contest.models import Round
from contest.services import ballots
from contest.services.contests import current_contest
from contest.services.rounds import RANKING_MAX_ENTRIES, active_round


@bp.get("/ranking")
def show_ranking():
    """The open ranking round's finalists as a grid, in this judge's latest order."""
    round_ = active_round(current_contest())
    if round_ is None or round_.method != "ranking":
        flash(str(NO_ROUND) if round_ is None else _("지금은 순위 심사가 아닙니다."), "error")
        return redirect(url_for("judge.show_dashboard"), 303)
    return _ranking_page(round_)


@bp.post("/ranking")
def save_ranking():
    """Save this judge's order (field `order`: entry ids, best first); the latest one counts.

    A form posts "12,7,31"; a script posts JSON {"order": [12, 7, 31]}. Ids the round does
    not hold, twice the same id or no id at all: 400, and the saved order stays as it was.
    """
    try:
        order = _posted_order()
        with write_transaction():
            round_ = active_round(current_contest())
            if round_ is None:
                raise ballots.RankingRefused(_("진행 중인 순위 심사가 없습니다."), 409)
            ranking = ballots.save_ranking(round_, g.user, order)
            saved = list(ranking.entry_ids)
    except ballots.RankingRefused as why:
        if wants_json() or request.is_json:
            return jsonify(error=str(why), field=why.field), why.status
        round_ = active_round(current_contest())
        if round_ is None or round_.method != "ranking":
            flash(str(why), "error")
            return redirect(url_for("judge.show_dashboard"), 303)
        typed = request.form.get("order", "")
        return _ranking_page(round_, str(why), typed, why.status)
    if wants_json() or request.is_json:
        return jsonify(saved=True, order=saved)
    flash(_("순위를 저장했습니다."), "success")
    return redirect(url_for("judge.show_ranking"), 303)


def _posted_order() -> list[int]:
    """The posted ids, best first: JSON {"order": [...]} (numbers or digit strings, or one
    comma-separated string) or the form's comma-separated `order`. Anything else: 400."""
    if request.is_json:
        body = request.get_json(silent=True)
        raw = body.get("order") if isinstance(body, dict) else None
        parts = raw.split(",") if isinstance(raw, str) else raw
    else:
        parts = request.form.get("order", "").split(",")
    if not isinstance(parts, list):
        raise ballots.RankingRefused(_("순위는 작품 번호의 목록이어야 합니다."), 400, "order")
    parts = [p.strip() if isinstance(p, str) else p for p in parts]
    parts = [p for p in parts if p != ""]
    if len(parts) > RANKING_MAX_ENTRIES:
        raise ballots.RankingRefused(
            _("순위에는 작품을 %(max)s개까지 넣을 수 있습니다.", max=RANKING_MAX_ENTRIES),
            400,
            "order",
        )
    return [_entry_id(p) for p in parts]


def _entry_id(part: object) -> int:
    """One id of the order: a whole number within 64 bits (bool is not one), else 400."""
    if isinstance(part, str) and part.isascii() and part.isdigit() and len(part) <= 20:
        part = int(part)
    if type(part) is not int or not 0 < part <= ID_MAX:
        raise ballots.RankingRefused(
            _("순위에는 작품 번호(숫자)만 쉼표로 나누어 넣어 주세요."), 400, "order"
        )
    return part


def _ranking_page(
    round_: Round, error: str | None = None, typed: str | None = None, status: int = 200
):
    entries = ballots.screen_order(round_, g.user.id)
    saved = ballots.ranking_of(round_, g.user.id)
    order_text = typed if typed is not None else ",".join(str(e.id) for e in entries)
    page = render_template(
        "judge/ranking.html",
        round=round_,
        entries=entries,
        saved=saved,
        order_text=order_text,
        error=error,
    )
    return page, status
