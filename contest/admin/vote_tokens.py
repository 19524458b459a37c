"""The people's-choice vote for organisers: vote cards to make and print, counts, voiding.

Cards are made in batches and printed as QR cards (`/admin/vote-tokens/print/<batch>`, one
A4 page of cards at a time, cut and handed out at the booth). The page lists the vote counts
per entry (admins only: the public sees none while voting is open), the cards that voted
suspiciously, and voids a card: its votes drop out of every count.
"""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from contest.admin import bp
from contest.admin.forms import ConfirmForm
from contest.core.arguments import page_arg
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db
from contest.core.qr import qr_svg
from contest.core.refusal import Refusal
from contest.core.responses import external_url
from contest.models import Vote, VoteToken, utcnow
from contest.services import votes
from contest.services.contests import current_contest, public_url

TOKENS_PER_PAGE = 50


class MakeTokensForm(FlaskForm):
    """How many vote cards to make now."""

    count = IntegerField(
        _l("만들 카드 수"),
        invalid_value_message=_l("카드 수는 정수로 써 주세요."),
        validators=[
            InputRequired(message=_l("만들 카드 수를 입력해 주세요.")),
            NumberRange(min=1, message=_l("1장 이상 만들어 주세요.")),
        ],
    )


@bp.get("/vote-tokens")
def show_vote_tokens():
    """Cards, counts per entry and suspicious cards, with the forms to make and void cards."""
    return _render(MakeTokensForm(formdata=None, data={"count": 50}))


@bp.post("/vote-tokens")
def make_vote_tokens():
    """Make a batch of cards, then show them ready to print."""
    form = MakeTokensForm()
    if not form.validate_on_submit():
        return _render(form, 400)
    try:
        with write_transaction():
            most = current_app.config["VOTE_TOKENS_MAX_BATCH"]
            tokens = votes.make_tokens(current_contest(), form.count.data, most, g.user)
            batch = tokens[0].batch
    except Refusal as why:
        show_on_form(form, why)
        return _render(form, why.status)
    flash(_("투표 카드 %(count)s장을 만들었습니다.", count=len(tokens)), "success")
    return redirect(url_for("admin.print_vote_tokens", batch=batch), 303)


@bp.get("/vote-tokens/print/<batch>")
def print_vote_tokens(batch: str):
    """One batch of cards as QR cards, to print on A4 and cut."""
    contest = current_contest()
    tokens = votes.batch_of(contest, batch) if len(batch) <= 24 else []
    if not tokens:
        abort(404)
    base = public_url(contest)
    cards = []
    for token in tokens:
        url = external_url(base, "gallery.use_vote_token", token=token.token)
        cards.append((token, votes.grouped_token(token.token), qr_svg(url, _("투표 카드 QR 코드"))))
    return render_template(
        "admin/vote_cards.html",
        contest=contest,
        cards=cards,
        has_public_url=bool(base),
        votes_per_token=current_app.config["VOTES_PER_TOKEN"],
    )


@bp.post("/vote-tokens/<token>/void")
def void_vote_token(token: str):
    """Stop a card: it votes no more, and its votes leave every count."""
    if not ConfirmForm().validate_on_submit():
        flash(_("요청을 처리할 수 없습니다. 페이지를 새로 고쳐 주세요."), "error")
        return redirect(url_for("admin.show_vote_tokens"), 303)
    try:
        with write_transaction():
            card = votes.find_token(current_contest(), token)
            if card is None:
                abort(404)
            votes.void(card, utcnow(), g.user)
    except Refusal as why:
        flash(why.message, "error")
        return redirect(url_for("admin.show_vote_tokens"), 303)
    flash(_("투표 카드를 중지했습니다. 이 카드의 표는 집계에서 빠졌습니다."), "success")
    return redirect(url_for("admin.show_vote_tokens"), 303)


def _render(form: MakeTokensForm, status: int = 200):
    contest = current_contest()
    config = current_app.config
    typed = request.args.get("token", "")
    used = (
        select(Vote.token_id, func.count(Vote.id).label("used")).group_by(Vote.token_id).subquery()
    )
    query = (
        select(VoteToken, func.coalesce(used.c.used, 0))
        .outerjoin(used, used.c.token_id == VoteToken.id)
        .where(VoteToken.contest_id == contest.id)
        .order_by(VoteToken.id.desc())
    )
    if typed:
        query = query.where(VoteToken.token == votes.clean_token(typed))
    page = page_arg()
    rows = db.session.execute(
        query.limit(TOKENS_PER_PAGE + 1).offset((page - 1) * TOKENS_PER_PAGE)
    ).all()
    return render_template(
        "admin/vote_tokens.html",
        contest=contest,
        form=form,
        void_form=ConfirmForm(),
        tokens=rows[:TOKENS_PER_PAGE],
        page=page,
        has_next=len(rows) > TOKENS_PER_PAGE,
        typed=typed,
        grouped=votes.grouped_token,
        standings=votes.peoples_choice_ranking(contest),
        categories={c.id: c for c in contest.categories},
        suspicious=votes.suspicious_tokens(
            contest,
            config["SUSPICIOUS_VOTE_BURST"],
            config["SUSPICIOUS_VOTE_BURST_SECONDS"],
            config["SUSPICIOUS_TOKENS_PER_ADDRESS"],
            config["VOTES_PER_TOKEN"],
        ),
        window=votes.voting_window(contest),
        voting_open=votes.voting_is_open(contest, utcnow()),
        votes_per_token=config["VOTES_PER_TOKEN"],
        most=config["VOTE_TOKENS_MAX_BATCH"],
    ), status
