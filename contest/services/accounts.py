"""Staff accounts: creating judges and admins, checking passwords, throttling guesses."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from contest.core.extensions import db
from contest.models import LoginFailure, User, utcnow
from contest.services.audit import audit

ROLES = ("judge", "admin")
# Checked against when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8), method="scrypt:65536:8:1")


class Throttled(Exception):
    """Too many failed logins for this account or address: try again later."""


class AccountError(ValueError):
    """A refused account change, with a message for the admin."""


def create_user(username: str, role: str, password: str, actor: User | None = None) -> User:
    """Add a judge or an admin (the caller commits)."""
    username = username.strip()
    if role not in ROLES:
        raise AccountError(_("역할은 %(roles)s 중 하나여야 합니다.", roles=", ".join(ROLES)))
    if not username or len(username) > 50:
        raise AccountError(_("아이디는 1자 이상 50자 이하여야 합니다."))
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(_("'%(username)s' 아이디는 이미 있습니다.", username=username))
    _check_password(password)
    user = User(username=username, role=role, password_hash=_hash(password))
    db.session.add(user)
    db.session.flush()
    audit(actor, "create-user", f"user:{user.id}", None, {"username": username, "role": role})
    return user


def set_password(user: User, password: str, actor: User | None = None) -> None:
    """Replace a user's password (the caller commits)."""
    _check_password(password)
    user.password_hash = _hash(password)
    audit(actor, "reset-password", f"user:{user.id}", None, None)


def set_active(user: User, active: bool, actor: User | None = None) -> None:
    """Disable or re-enable an account (the caller commits)."""
    audit(actor, "set-active", f"user:{user.id}", {"active": user.active}, {"active": active})
    user.active = active


def authenticate(username: str, password: str, address: str) -> User | None:
    """The active user with these credentials, or None; raises Throttled after too many failures.

    Failures are counted per account and per address over a sliding window, in the database,
    so the limit holds across every server worker.
    """
    config = current_app.config
    since = utcnow() - timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"])
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    limit = config["LOGIN_MAX_FAILURES"]
    for column, value in ((LoginFailure.username, username), (LoginFailure.address, address)):
        failures = select(func.count(LoginFailure.id)).where(column == value)
        if db.session.scalar(failures) >= limit:
            raise Throttled()
    user = db.session.scalar(select(User).where(User.username == username))
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if not (user and valid and user.active):
        db.session.add(LoginFailure(username=username[:50], address=address[:64]))
        return None
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    user.last_login_at = utcnow()
    return user


def ensure_first_admin() -> str | None:
    """Create the `admin` account with a random password when there is no admin at all.

    Returns the password (to be shown once), or None when an admin already exists.
    """
    if db.session.scalar(select(User.id).where(User.role == "admin").limit(1)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_user("admin", "admin", password)
    return password


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise AccountError(_("비밀번호는 10자 이상이어야 합니다."))
