"""Uploads stream to disk: no part of the app holds a whole upload in memory."""

from __future__ import annotations

import io
import tracemalloc

from .conftest import entry_form
from .photos import photo_bytes

PADDING = 25 * 1024 * 1024


def test_a_large_upload_is_never_held_in_memory(app, client, upload_folder):
    # A real photo followed by 25 MB of padding (decoders stop at the end of the image), sent
    # from a file object the way a WSGI server hands the body over.
    body = io.BytesIO(photo_bytes() + b"\0" * PADDING)
    data = entry_form()
    data["media"] = (body, "big.jpg")
    tracemalloc.start()
    try:
        response = client.post("/submit", data=data, content_type="multipart/form-data")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 303
    # The test client's own copy of the request lives outside the traced window only in part,
    # so the bound is generous; reading the upload whole would alone exceed it five times.
    assert peak < PADDING / 5, f"peak Python allocation {peak / 1e6:.1f} MB during the request"
