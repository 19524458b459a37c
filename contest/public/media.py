"""Serving entry derivatives (thumbnails, previews, video playback copies); never originals."""

from __future__ import annotations

from flask import Blueprint, abort, current_app
from sqlalchemy import select

from contest.core.extensions import db
from contest.core.stored_files import send_stored
from contest.models import Asset

bp = Blueprint("media", __name__, url_prefix="/media")

PUBLIC_ROLES = ("preview", "thumbnail", "playback")


@bp.get("/<path:key>")
def show_media(key: str):
    """A derivative by its random key, cacheable for a long time: its bytes never change."""
    asset = db.session.scalar(select(Asset).where(Asset.key == key))
    if asset is None or asset.role not in PUBLIC_ROLES:
        abort(404)
    response = send_stored(
        key,
        mimetype=asset.content_type,
        max_age=current_app.config["MEDIA_CACHE_SECONDS"],
    )
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
