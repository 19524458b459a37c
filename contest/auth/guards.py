"""The role guard that the judge and admin blueprints run before every one of their views."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _

from contest.core.responses import wants_json


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
