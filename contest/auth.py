"""Staff sign-in: login, logout, the signed-in user, and the role guard for staff blueprints."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
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
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired

from . import accounts
from .extensions import db, limiter
from .models import User
from .responses import wants_json
from .security import login_rate_limit

bp = Blueprint("auth", __name__)

THROTTLED = _l("로그인에 여러 번 실패했습니다. 15분 뒤에 다시 시도해 주세요.")


class LoginForm(FlaskForm):
    """Username and password; `next` is where the user was going."""

    username = StringField(
        _l("아이디"), validators=[DataRequired(message=_l("아이디를 입력해 주세요."))]
    )
    password = PasswordField(
        _l("비밀번호"), validators=[DataRequired(message=_l("비밀번호를 입력해 주세요."))]
    )
    next = HiddenField()


@bp.before_app_request
def load_user() -> None:
    """Make the signed-in user available as `g.user`, while active and on the same password."""
    user_id = session.get("user_id")
    user = db.session.get(User, user_id) if user_id else None
    valid = user is not None and user.active and session.get("stamp") == password_stamp(user)
    g.user = user if valid else None


def password_stamp(user: User) -> str:
    """A keyed digest of the user's password hash, kept in the session.

    Resetting a password changes it, which signs out every session opened with the old one
    (a lost laptop stays signed in otherwise). The hash itself never goes into the cookie.
    """
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


@bp.get("/login")
def show_login():
    """The sign-in page."""
    form = LoginForm(next=request.args.get("next", ""))
    return render_template("auth/login.html", form=form)


@bp.post("/login")
@limiter.limit(login_rate_limit)
def login():
    """Sign a judge or an admin in, then send them where they were going."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400
    try:
        user = accounts.authenticate(form.username.data, form.password.data, _address())
    except accounts.Throttled:
        db.session.commit()
        if wants_json():
            return jsonify(errors={"_form": [str(THROTTLED)]}), 429
        form.form_errors.append(str(THROTTLED))
        return render_template("auth/login.html", form=form), 429
    db.session.commit()
    if user is None:
        form.form_errors.append(_("아이디나 비밀번호가 맞지 않습니다."))
        return render_template("auth/login.html", form=form), 401
    session.clear()  # a fresh session: nothing from before the sign-in carries over
    session["user_id"] = user.id
    session["stamp"] = password_stamp(user)
    return redirect(safe_next(form.next.data) or home_of(user), 303)


@bp.post("/logout")
def logout():
    """Sign out (a form with a CSRF token, never a link)."""
    session.clear()
    return redirect(url_for("submit.show_landing"), 303)


def home_of(user: User) -> str:
    """Where a user lands after signing in."""
    return url_for("admin.show_dashboard" if user.is_admin else "judge.show_dashboard")


def require_role(*roles: str) -> Callable[[], object]:
    """A blueprint's before_request: signed in with one of these roles, or no entry."""

    def guard():
        if g.user is None:
            if wants_json():
                return jsonify(errors={"_form": [_("로그인이 필요합니다.")]}), 401
            return redirect(url_for("auth.show_login", next=request.full_path.rstrip("?")), 303)
        if g.user.role not in roles:
            abort(403)
        return None

    return guard


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site; never another host (an open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def _address() -> str:
    return request.remote_addr or "unknown"
