"""The layers stay apart: the domain and the media and storage code never load the web layer."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import contest.media
import contest.services
import contest.storage

PROJECT = Path(__file__).resolve().parent.parent
SERVICES = sorted(
    f"contest.services.{m.name}" for m in pkgutil.iter_modules(contest.services.__path__)
)
# Every module of the media and storage packages, not only the packages themselves.
MEDIA_AND_STORAGE = sorted(
    f"{package.__name__}.{m.name}"
    for package in (contest.media, contest.storage)
    for m in pkgutil.iter_modules(package.__path__)
)
WEB_LAYER = (
    "flask_wtf",
    "wtforms",
    "contest.public",
    "contest.auth",
    "contest.judge",
    "contest.admin",
)


def test_services_media_and_storage_load_no_forms_and_no_blueprints():
    """Imported in a fresh interpreter, none of them pulls in a form library or a view module,
    nor boto3, which only a site on S3 needs (0.14 s of every process's start)."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {['contest.media', 'contest.storage', *MEDIA_AND_STORAGE, *SERVICES]!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert "contest.services.entries" in loaded  # the check ran over the real modules
    leaked = [m for m in loaded if m.startswith(WEB_LAYER)]
    assert leaked == []
    assert [m for m in loaded if m.startswith(("boto3", "botocore"))] == []
