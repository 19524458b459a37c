"""Stored files as HTTP responses, streamed from whichever storage holds them.

Werkzeug's `send_file` needs a local path to answer Range and conditional requests; here the
same answers come from the storage's size and a ranged `open`, so a video seeks from S3 as it
does from disk: a Range request reads only its bytes (S3 gets the Range in its GetObject).
"""

from __future__ import annotations

from flask import Response, abort, current_app, request
from werkzeug.wsgi import FileWrapper

from contest.storage import get_storage

CHUNK = 256 * 1024


def send_stored(
    key: str,
    *,
    mimetype: str,
    max_age: int | None = None,
    download_name: str | None = None,
) -> Response:
    """The file under `key`, answering If-None-Match and Range; 404 when it is not stored.

    The ETag is the key's random last part: a stored file never changes under its key. The
    caller adds its own cache policy (public or private) and security headers.
    """
    storage = get_storage()
    try:
        size = storage.size(key)
    except FileNotFoundError:
        abort(404)
    response = current_app.response_class(mimetype=mimetype, direct_passthrough=True)
    response.content_length = size
    response.set_etag(key.rsplit("/", 1)[-1])
    if max_age is not None:
        response.cache_control.max_age = max_age
    if download_name is not None:
        response.headers.set("Content-Disposition", "attachment", filename=download_name)
    response.make_conditional(request, accept_ranges=True, complete_length=size)
    if response.status_code == 304 or request.method == "HEAD":
        return response
    start, stop = 0, size
    if response.status_code == 206:
        start, stop = response.content_range.start, response.content_range.stop
    try:
        source = storage.open(key, start, stop)
    except FileNotFoundError:  # deleted since it was measured
        abort(404)
    response.response = FileWrapper(source, CHUNK)
    return response
