"""Staff sign-in: login, logout and the signed-in user (`g.user`)."""

from __future__ import annotations

from flask import (
    Blueprint,
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
from contest.core.database import write_transaction
from contest.core.errors import show_on_form
from contest.core.extensions import db, limiter
from contest.core.responses import safe_next, wants_json
from contest.core.security import login_rate_limit
from contest.models import User
from contest.services import accounts

bp = Blueprint("auth", __name__)


@bp.before_app_request
def load_user() -> None:
    """Make the signed-in user available as `g.user`, while their session is current.

    The cookie carries the user's session version from sign-in; signing out, disabling the
    account and a new password raise the version, so every copy of an older cookie (a saved
    one, a lost laptop's) stops counting, and re-enabling an account does not revive it.
    """
    user_id = session.get("user_id")
    user = db.session.get(User, user_id) if user_id else None
    g.user = user if accounts.session_is_current(user, session.get("version")) else None


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
        attempt = accounts.check_sign_in(form.username.data, form.password.data, _address())
        with write_transaction():
            user = accounts.record_sign_in(attempt)
        if user is None and attempt.address_throttled:
            raise accounts.Throttled()
    except accounts.Throttled as why:
        if wants_json():
            return jsonify(errors={"_form": [str(why)]}), why.status
        show_on_form(form, why)
        return render_template("auth/login.html", form=form), why.status
    if user is None:
        form.form_errors.append(_("아이디나 비밀번호가 맞지 않습니다."))
        return render_template("auth/login.html", form=form), 401
    session.clear()  # a fresh session: nothing from before the sign-in carries over
    session["user_id"] = user.id
    session["version"] = user.session_version
    return redirect(safe_next(form.next.data) or home_of(user), 303)


@bp.post("/logout")
def logout():
    """Sign out (a form with a CSRF token, never a link), on every device.

    A cookie is signed, not stored, so clearing it here would leave any copy of it working;
    raising the user's session version ends them all. A judge on a laptop and a tablet signs
    in again on the other one: a session forgotten on a venue machine ends with it.
    """
    if g.user is not None:
        with write_transaction():
            accounts.end_sessions(g.user)
    session.clear()
    return redirect(url_for("submit.show_landing"), 303)


def home_of(user: User) -> str:
    """Where a user lands after signing in."""
    return url_for("admin.show_dashboard" if user.is_admin else "judge.show_dashboard")


def _address() -> str:
    return request.remote_addr or "unknown"
