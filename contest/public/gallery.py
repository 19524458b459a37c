"""The public gallery and the people's-choice vote: entries on display, and voting with a card.

A vote card's QR code opens `/vote/<token>`, which keeps the card in the visitor's session
and sends them to the gallery; each entry's page then offers a vote while the card has votes
left. Votes answer 201 when counted, 409 for a second vote on the same entry with the same
card, 403 with no card, an unknown, voided or used-up card, or outside the voting window:
as the entry's page with the message, or as JSON `{"error": ...}` for callers asking for it.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from contest.core.arguments import page_arg
from contest.core.database import write_transaction
from contest.core.extensions import limiter
from contest.core.refusal import Refusal
from contest.core.responses import wants_json
from contest.core.security import vote_rate_limit
from contest.models import Contest, Entry, utcnow
from contest.services import gallery, votes
from contest.services.awards import mask_name
from contest.services.contests import current_contest

bp = Blueprint("gallery", __name__)

# Where the visitor's session keeps the vote card's code.
SESSION_KEY = "vote_token"


@bp.get("/gallery")
def show_gallery():
    """One category's entries on display, a page of thumbnails at a time."""
    contest = current_contest()
    categories = gallery.categories(contest)
    wanted = request.args.get("category", "")
    category = next(
        (c for c in categories if c.slug == wanted), categories[0] if categories else None
    )
    page = (
        gallery.page_of(category, page_arg(), current_app.config["GALLERY_PER_PAGE"])
        if category
        else None
    )
    return render_template(
        "gallery/index.html",
        contest=contest,
        categories=categories,
        category=category,
        page=page,
        mask_name=mask_name,
        card=_card_state(contest),
    )


@bp.get("/gallery/<public_id>")
def show_gallery_entry(public_id: str):
    """One entry on display: its preview or playable video, title and masked name."""
    contest = current_contest()
    entry = gallery.find(contest, public_id) or abort(404)
    return _render_entry(contest, entry)


@bp.post("/gallery/<public_id>/vote")
@limiter.limit(vote_rate_limit)
def vote_for_entry(public_id: str):
    """Cast the session's vote card's vote for this entry (CSRF-checked like every POST)."""
    contest = current_contest()
    entry = gallery.find(contest, public_id)
    if entry is None:
        abort(404)
    digest = votes.address_digest(request.remote_addr, current_app.config["SECRET_KEY"])
    try:
        with write_transaction():
            contest = current_contest()
            votes.cast(
                contest,
                entry,
                session.get(SESSION_KEY),
                digest,
                utcnow(),
                current_app.config["VOTES_PER_TOKEN"],
            )
    except Refusal as why:
        if wants_json():
            return jsonify(error=str(why.message)), why.status
        return _render_entry(contest, entry, error=why.message, status=why.status)
    card = _card_state(contest)
    if wants_json():
        return jsonify(entry=entry.public_id, votes_left=card["left"]), 201
    return _render_entry(contest, entry, done=_("투표했습니다. 고맙습니다!"), status=201)


@bp.get("/vote/<token>")
def use_vote_token(token: str):
    """A vote card's QR code: keep the card in this browser's session, then to the gallery."""
    contest = current_contest()
    card = votes.find_token(contest, token)
    if card is None:
        return render_template("gallery/card.html", problem="unknown"), 404
    if card.voided_at is not None:
        return render_template("gallery/card.html", problem="voided"), 403
    session[SESSION_KEY] = card.token
    return redirect(url_for("gallery.show_gallery"), 303)


def _card_state(contest: Contest) -> dict:
    """What the page says about the visitor's card: none, or its votes left and choices."""
    card = votes.find_token(contest, session.get(SESSION_KEY))
    most = current_app.config["VOTES_PER_TOKEN"]
    if card is None:
        return {"held": False, "left": 0, "voted": set(), "voided": False, "most": most}
    voted = votes.voted_entry_ids(card)
    return {
        "held": True,
        "left": max(0, most - len(voted)),
        "voted": voted,
        "voided": card.voided_at is not None,
        "most": most,
    }


def _render_entry(
    contest: Contest, entry: Entry, error: object = None, done: str | None = None, status: int = 200
):
    now = utcnow()
    opens, closes = votes.voting_window(contest)
    return render_template(
        "gallery/entry.html",
        contest=contest,
        entry=entry,
        name=mask_name(entry.entrant_name or ""),
        card=_card_state(contest),
        voting_open=votes.voting_is_open(contest, now),
        voting_opens=opens,
        voting_closes=closes,
        count=votes.public_count(contest, entry, now),
        error=error,
        done=done,
    ), status
