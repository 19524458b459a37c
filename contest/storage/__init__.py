"""Where entry files live, behind one small interface, so views never touch paths or buckets.

`STORAGE_URL` picks the backend: none keeps files in `UPLOAD_FOLDER` (`LocalStorage`), and
`s3://bucket/prefix` keeps them in an S3-compatible object store (`S3Storage`), which several
app servers can share. Both offer the same methods: put, adopt, open (streaming, optionally a
byte range), local_copy (a path for Pillow or PyAV), exists, size, delete, keys, sizes, and
the local temporary folder of uploads in flight (temp_file, temp_files, new_key). Only
`LocalStorage` has `path`; code that needs a file on disk asks for `local_copy` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from contest.storage.common import TMP_DIR, StorageUnavailable, check_key, new_key
from contest.storage.local import LocalStorage, fsync_path
from contest.storage.s3 import S3Storage

Storage = LocalStorage | S3Storage

__all__ = [
    "TMP_DIR",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "StorageUnavailable",
    "check_key",
    "fsync_path",
    "get_storage",
    "init_app",
    "make_storage",
    "new_key",
]


def make_storage(config: dict[str, Any]) -> Storage:
    """The backend the settings ask for; uploads in flight stay in UPLOAD_FOLDER/tmp either way."""
    folder = Path(config["UPLOAD_FOLDER"])
    url = config.get("STORAGE_URL")
    if not url:
        return LocalStorage(folder)
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"STORAGE_URL must be s3://bucket or s3://bucket/prefix, not {url!r}")
    return S3Storage(
        bucket=parts.netloc,
        prefix=parts.path,
        tmp=folder / TMP_DIR,
        endpoint_url=config.get("S3_ENDPOINT_URL"),
        region=config.get("S3_REGION"),
    )


def init_app(app: Flask) -> None:
    """Attach the configured storage to the app and make sure its local folders exist."""
    storage = make_storage(app.config)
    storage.ensure_folders()
    app.extensions["contest.storage"] = storage


def get_storage() -> Storage:
    """The storage of the current app."""
    return current_app.extensions["contest.storage"]
