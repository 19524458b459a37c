"""The visible language switch (Korean or English), remembered in the visitor's session."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for

from contest.core.i18n import LANGUAGES
from contest.core.responses import safe_next

bp = Blueprint("i18n", __name__)


@bp.get("/language/<code>")
def switch_language(code: str):
    """Remember a language for this visitor and go back to the page they were on."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("submit.show_landing"), 303)
