"""Staff sign-in: login, logout and the signed-in user (`g.user`)."""

from __future__ import annotations

import hashlib
import hmac

from flask import (
    Blueprint,
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

from contest.auth.forms import LoginForm
from contest.core.errors import show_on_form
from contest.core.extensions import db, limiter
from contest.core.responses import safe_next, wants_json
from contest.core.security import login_rate_limit
from contest.models import User
from contest.services import accounts

bp = Blueprint("auth", __name__)


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
    except accounts.Throttled as why:
        db.session.commit()  # keep the expired failures' clean-up
        if wants_json():
            return jsonify(errors={"_form": [str(why)]}), why.status
        show_on_form(form, why)
        return render_template("auth/login.html", form=form), why.status
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


def _address() -> str:
    return request.remote_addr or "unknown"
