"""Admin pages for staff accounts: list, add, disable and enable, reset a password."""

from __future__ import annotations

import secrets

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from contest.admin import bp
from contest.admin.forms import ConfirmForm, NewPasswordForm, StaffForm
from contest.core.database import begin_write
from contest.core.extensions import db
from contest.models import Score, User
from contest.services import accounts
from contest.services.accounts import AccountError
from contest.services.audit import audit

# No look-alikes (0/o, 1/l/i), so a judge can copy it from a note: 16 of 31 symbols, ~79 bits.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


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
    begin_write()  # the uniqueness check and the insert in one write transaction
    form = StaffForm()
    if not form.validate_on_submit():
        return render_template("admin/judges_new.html", form=form), 400
    password = generate_password() if form.generate.data else form.password.data
    try:
        user = add_staff(
            form.username.data, form.display_name.data, form.role.data, password, g.user
        )
    except AccountError as why:
        form.form_errors.append(str(why))
        return render_template("admin/judges_new.html", form=form), 400
    db.session.commit()
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
    begin_write()
    user = db.get_or_404(User, user_id)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_template("admin/judges_password.html", user=user, form=form), 400
    password = generate_password() if form.generate.data else form.password.data
    try:
        accounts.set_password(user, password, actor=g.user)
    except AccountError as why:
        form.password.errors = [*form.password.errors, str(why)]
        return render_template("admin/judges_password.html", user=user, form=form), 400
    db.session.commit()
    if form.generate.data:
        return _show_password_once(user, password, 200)
    flash(_("'%(username)s' 계정의 비밀번호를 바꿨습니다.", username=user.username), "success")
    return redirect(url_for("admin.list_judges"), 303)


def _set_active(user_id: int, active: bool):
    if not ConfirmForm().validate_on_submit():
        return _render_list(_("요청을 처리할 수 없습니다. 페이지를 새로 고쳐 주세요."), 400)
    begin_write()  # two admins disabling each other cannot both pass the last-admin check
    user = db.get_or_404(User, user_id)
    try:
        changed = set_account_active(user, active, g.user)
    except AccountError as why:
        return _render_list(str(why), 409)
    db.session.commit()
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


# --- Account rules; they stay here because accounts.py belongs to the sign-in work. ---


def generate_password() -> str:
    """A random password easy to read aloud and type: four groups of four, e.g. ab3d-x7kq-…."""
    symbols = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
    return "-".join(symbols[i : i + 4] for i in range(0, 16, 4))


def add_staff(username: str, display_name: str, role: str, password: str, actor: User) -> User:
    """Create a personal account with its display name, both recorded against `actor`."""
    user = accounts.create_user(username, role, password, actor=actor)
    user.display_name = display_name
    audit(actor, "set-display-name", f"user:{user.id}", None, {"display_name": display_name})
    return user


def set_account_active(user: User, active: bool, actor: User) -> bool:
    """Disable or enable an account; False when it already was. The caller commits.

    Nobody disables their own account, and the last active admin stays: someone must always
    be able to sign in and run the contest.
    """
    if user.active == active:
        return False
    if not active:
        if user.id == actor.id:
            raise AccountError(
                _("자기 계정은 중지할 수 없습니다. 필요하면 다른 운영자에게 부탁해 주세요.")
            )
        if user.is_admin and _active_admins() <= 1:
            raise AccountError(
                _(
                    "'%(username)s'은(는) 마지막 활성 운영자라 중지할 수 없습니다."
                    " 다른 운영자 계정을 먼저 만들거나 다시 쓸 수 있게 해 주세요.",
                    username=user.username,
                )
            )
    accounts.set_active(user, active, actor=actor)
    return True


def _active_admins() -> int:
    query = select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
    return db.session.scalar(query)
