"""`/uploads/<id>/check`: what the background content checks made of a finished upload.

The entry form's script asks after each upload completes, so a refused file is named next to
its field before the visitor presses submit. Only the browser session that made the upload
gets an answer (another gets 404, as on the tus routes); the answer is always JSON.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, session
from flask_babel import get_locale

from contest.models import utcnow
from contest.public import tus
from contest.services import upload_checks
from contest.services import uploads_in_flight as uploads
from contest.services.uploads_in_flight import UploadRefused

bp = Blueprint("upload_check", __name__)


@bp.errorhandler(UploadRefused)
def _refused(why: UploadRefused):
    return jsonify(error=str(why)), why.status


@bp.get("/uploads/<upload_id>/check")
def show_upload_check(upload_id: str):
    """The check's state ("checking", "ok", "refused") and a refusal's message."""
    expiry = current_app.config["UPLOAD_EXPIRY"]
    upload = uploads.find(upload_id, session.get(tus.OWNER), utcnow(), expiry)
    verdict = upload_checks.verdict(upload, str(get_locale()))
    response = jsonify(state=verdict.state, message=verdict.message)
    response.headers["Cache-Control"] = "no-store"
    return response
