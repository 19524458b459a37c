"""Staff accounts: adding, disabling (never the last admin), passwords, throttled sign-in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, distinct, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from contest.core.extensions import db
from contest.core.refusal import Refusal
from contest.models import AuditLog, LoginFailure, User, utcnow
from contest.services.audit import audit

ROLES = ("judge", "admin")
# No look-alikes (0/o, 1/l/i), so a judge can copy it from a note: 16 of 31 symbols, ~79 bits.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# The audit action telling the admins an account met the ceiling (LOGIN_ACCOUNT_MAX_FAILURES).
CEILING_ACTION = "login-ceiling"


class Throttled(Refusal):
    """Too many failed logins for this account or address: try again later."""

    status = 429

    def __init__(self):
        minutes = max(1, round(current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"] / 60))
        message = _l(
            "로그인에 여러 번 실패했습니다. %(minutes)s분 뒤에 다시 시도해 주세요.", minutes=minutes
        )
        super().__init__(message)


class AccountError(Refusal):
    """A refused account change: 409 when the accounts' state forbids it (the last admin),
    400 when what was typed cannot be an account (the view shows it next to the form)."""


def create_user(username: str, role: str, password: str, actor: User | None = None) -> User:
    """Add a judge or an admin (the caller commits)."""
    username = username.strip()
    if role not in ROLES:
        raise AccountError(_("역할은 %(roles)s 중 하나여야 합니다.", roles=", ".join(ROLES)), 400)
    if not username or len(username) > 50:
        raise AccountError(_("아이디는 1자 이상 50자 이하여야 합니다."), 400)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(_("'%(username)s' 아이디는 이미 있습니다.", username=username), 400)
    _check_password(password)
    user = User(username=username, role=role, password_hash=_hash(password))
    db.session.add(user)
    db.session.flush()
    audit(actor, "create-user", f"user:{user.id}", None, {"username": username, "role": role})
    return user


def set_password(user: User, password: str, actor: User | None = None) -> None:
    """Replace a user's password, ending every session opened with the old one and lifting
    a sign-in lock on the account (the caller commits)."""
    _check_password(password)
    user.password_hash = _hash(password)
    end_sessions(user)
    # Guesses at the old password mean nothing now: a new password lifts a sign-in lock.
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == user.username))
    audit(actor, "reset-password", f"user:{user.id}", None, None)


def set_active(user: User, active: bool, actor: User | None = None) -> None:
    """Disable or re-enable an account (the caller commits).

    Disabling ends the user's sessions for good: re-enabling later does not revive them.
    """
    audit(actor, "set-active", f"user:{user.id}", {"active": user.active}, {"active": active})
    user.active = active
    if not active:
        end_sessions(user)


def end_sessions(user: User) -> None:
    """End every session of the user, on every device and every copy of its cookie (the
    caller commits). Sessions carry the version they were opened at; see `session_is_current`.
    """
    user.session_version = User.session_version + 1  # counted in SQL: no lost update
    db.session.flush()


def session_is_current(user: User | None, version: object) -> bool:
    """Whether a session opened at `version` still stands: the user is active and has not
    signed out, been disabled or been given a new password since."""
    return user is not None and user.active and version == user.session_version


def generate_password() -> str:
    """A random password easy to read aloud and type: four groups of four, e.g. ab3d-x7kq-…."""
    symbols = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(16))
    return "-".join(symbols[i : i + 4] for i in range(0, 16, 4))


def add_staff(username: str, display_name: str, role: str, password: str, actor: User) -> User:
    """Create a personal account with its display name, both recorded against `actor`."""
    user = create_user(username, role, password, actor=actor)
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
    set_active(user, active, actor=actor)
    return True


def _active_admins() -> int:
    query = select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
    return db.session.scalar(query)


@dataclass
class SignInAttempt:
    """What checking a password found, before anything is written (see `check_sign_in`)."""

    username: str
    address: str
    # The active account the password opens, or None.
    user: User | None
    # The address has failed with too many names that are not accounts: its failures answer
    # 429, whatever the name, so the answer never tells which names exist.
    address_throttled: bool


def check_sign_in(username: str, password: str, address: str) -> SignInAttempt:
    """Check a password against the throttles and the account; reads only.

    Raises Throttled, before any password check, when this name has failed
    LOGIN_MAX_FAILURES times from this address within the window, or
    LOGIN_ACCOUNT_MAX_FAILURES times from all addresses together (the ceiling). Guesses
    from one address never lock the account out from another below the ceiling, and names
    that are not accounts never lock out real ones behind the same address (a venue's judges
    share a few public addresses). A name that is not an account is checked against a dummy
    hash, so it takes as long as a wrong password.

    Pass the result to `record_sign_in` inside a write transaction: the password check
    (scrypt, a third of a second) runs here, outside the write lock.
    """
    config = current_app.config
    username, address = username[:50], address[:64]
    since = _window_start()
    limit = config["LOGIN_MAX_FAILURES"]
    named = LoginFailure.username == username
    if _failures(since, named, LoginFailure.address == address) >= limit:
        raise Throttled()
    if _failures(since, named) >= config["LOGIN_ACCOUNT_MAX_FAILURES"]:
        raise Throttled()
    user = db.session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user else _dummy_hash(config["PASSWORD_HASH_METHOD"])
    valid = check_password_hash(stored, password)
    unknown_names = LoginFailure.username.not_in(select(User.username))
    address_throttled = _failures(since, LoginFailure.address == address, unknown_names) >= limit
    return SignInAttempt(
        username=username,
        address=address,
        user=user if (user is not None and valid and user.active) else None,
        address_throttled=address_throttled,
    )


def record_sign_in(attempt: SignInAttempt) -> User | None:
    """Count a failed attempt, or clear this address's failures for the account and note the
    sign-in; returns the user signed in, or None. The caller commits, under `write_transaction`,
    so the ceiling's alert is written once however many guesses arrive together.
    """
    since = _window_start()
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    if attempt.user is None:
        db.session.add(LoginFailure(username=attempt.username, address=attempt.address))
        db.session.flush()
        _alert_at_ceiling(attempt.username, since)
        return None
    # Only this address's: a judge signing in must not wipe an attacker's count elsewhere.
    db.session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == attempt.username, LoginFailure.address == attempt.address
        )
    )
    attempt.user.last_login_at = utcnow()
    return attempt.user


def _alert_at_ceiling(username: str, since: datetime) -> None:
    """Tell the admins, through the audit log (shown on their dashboard), that an account met
    the ceiling: once per crossing, not once per guess."""
    failures, addresses, first = db.session.execute(
        select(
            func.count(LoginFailure.id),
            func.count(distinct(LoginFailure.address)),
            func.min(LoginFailure.at),
        ).where(LoginFailure.username == username, LoginFailure.at >= since)
    ).one()
    if failures < current_app.config["LOGIN_ACCOUNT_MAX_FAILURES"]:
        return
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        return
    target = f"user:{user_id}"
    already = select(AuditLog.id).where(
        AuditLog.action == CEILING_ACTION, AuditLog.target == target, AuditLog.at >= first
    )
    if db.session.scalar(already.limit(1)) is None:
        new = {"username": username, "failures": failures, "addresses": addresses}
        audit(None, CEILING_ACTION, target, None, new)


def _window_start() -> datetime:
    return utcnow() - timedelta(seconds=current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"])


def _failures(since: datetime, *conditions) -> int:
    query = select(func.count(LoginFailure.id)).where(LoginFailure.at >= since, *conditions)
    return db.session.scalar(query)


def ensure_first_admin() -> str | None:
    """Create the `admin` account with a random password when there is no admin at all.

    Returns the password (to be shown once), or None when an admin already exists.
    """
    if db.session.scalar(select(User.id).where(User.role == "admin").limit(1)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_user("admin", "admin", password)
    return password


@cache
def _dummy_hash(method: str) -> str:
    """What an unknown username is checked against, so a wrong name takes as long as a wrong
    password: a hash made with the site's own method and cost.

    Made on the first sign-in, not at import: scrypt at the production cost takes a fifth of a
    second, which every process (each CLI command, each server and job worker) paid at start.
    """
    return generate_password_hash(secrets.token_hex(8), method=method)


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise AccountError(_("비밀번호는 10자 이상이어야 합니다."), 400, field="password")
