"""Admin pages for staff accounts: list, add, disable and enable, reset a password."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from contest.admin import bp
from contest.admin.forms import ConfirmForm, NewPasswordForm, StaffForm
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import Score, User
from contest.services import accounts
from contest.services.accounts import add_staff, generate_password, set_account_active


@bp.get("/judges")
def list_judges():
    """Every staff account: who they are, whether they can sign in, how much they scored."""
    return _render_list()


@bp.get("/judges/new")
def show_new_judge():
    """The form to add a judge or an admin."""
    return render_template("admin/judges_new.html", form=StaffForm())


@bp.post("/judges/new")
def create_judge():
    """Add a personal account; a generated password is shown once, on the page that follows."""
    form = StaffForm()
    if not form.validate_on_submit():
        return render_template("admin/judges_new.html", form=form), 400
    password = generate_password() if form.generate.data else form.password.data
    try:
        with write_transaction():  # the uniqueness check and the insert together
            user = add_staff(
                form.username.data, form.display_name.data, form.role.data, password, g.user
            )
    except Refusal as why:
        show_on_form(form, why)
        return render_template("admin/judges_new.html", form=form), why.status
    if form.generate.data:
        return _show_password_once(user, password, 201)
    flash(_("'%(username)s' 계정을 만들었습니다.", username=user.username), "success")
    return redirect(url_for("admin.list_judges"), 303)


@bp.post("/judges/<int:user_id>/disable")
def disable_judge(user_id: int):
    """Stop an account from signing in (its scores stay)."""
    return _set_active(user_id, False)


@bp.post("/judges/<int:user_id>/enable")
def enable_judge(user_id: int):
    """Let a disabled account sign in again."""
    return _set_active(user_id, True)


@bp.get("/judges/<int:user_id>/password")
def show_password_form(user_id: int):
    """The form to give an account a new password."""
    user = db.get_or_404(User, user_id)
    return render_template("admin/judges_password.html", user=user, form=NewPasswordForm())


@bp.post("/judges/<int:user_id>/password")
def reset_password(user_id: int):
    """Give an account a new password, typed twice or generated and shown once."""
    user = db.get_or_404(User, user_id)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_template("admin/judges_password.html", user=user, form=form), 400
    password = generate_password() if form.generate.data else form.password.data
    try:
        with write_transaction():
            accounts.set_password(user, password, actor=g.user)
    except Refusal as why:
        show_on_form(form, why)
        return render_template("admin/judges_password.html", user=user, form=form), why.status
    if form.generate.data:
        return _show_password_once(user, password, 200)
    flash(_("'%(username)s' 계정의 비밀번호를 바꿨습니다.", username=user.username), "success")
    return redirect(url_for("admin.list_judges"), 303)


def _set_active(user_id: int, active: bool):
    if not ConfirmForm().validate_on_submit():
        return _render_list(_("요청을 처리할 수 없습니다. 페이지를 새로 고쳐 주세요."), 400)
    user = db.get_or_404(User, user_id)
    try:
        # Under the write lock: two admins disabling each other cannot both pass the
        # last-admin check.
        with write_transaction():
            changed = set_account_active(user, active, g.user)
    except Refusal as why:
        return _render_list(why.message, why.status)
    if changed:
        if active:
            message = _("'%(username)s' 계정을 다시 쓸 수 있게 했습니다.", username=user.username)
        else:
            message = _("'%(username)s' 계정을 중지했습니다.", username=user.username)
        flash(message, "success")
    return redirect(url_for("admin.list_judges"), 303)


def _render_list(error: str | None = None, status: int = 200):
    scores = func.count(Score.id)
    rows = db.session.execute(
        select(User, scores)
        .outerjoin(Score, Score.judge_id == User.id)
        .group_by(User.id)
        .order_by(User.active.desc(), User.role, User.username)
    ).all()
    page = render_template("admin/judges.html", rows=rows, form=ConfirmForm(), error=error)
    return page, status


def _show_password_once(user: User, password: str, status: int):
    """The new password, in this response only.

    Rendered here rather than after a redirect: the secret is then never written anywhere
    (not to the database, not to the signed but readable session cookie), and `no-store`
    keeps it out of the browser's cache and history.
    """
    page = render_template("admin/judges_secret.html", user=user, password=password)
    return page, status, {"Cache-Control": "no-store", "Pragma": "no-cache"}
