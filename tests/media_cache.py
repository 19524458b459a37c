"""Generated test media made once per test run and shared by every pytest-xdist worker.

Clips and HEIC photos take seconds to encode. A module-scoped fixture makes them once per
module and process; under `make test -n N` the module's tests are spread over N workers, and
each would encode the same files again. Here the first worker to ask makes them (under a file
lock) in a folder all workers of the run share, and every caller gets its own copy, so a test
that changes its files cannot change another worker's.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this whole run: under xdist each worker's base folder is a
    child (popen-gwN) of the controller's, which the workers share."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "media-cache"
    folder.mkdir(exist_ok=True)
    return folder


def made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]
) -> Path:
    """A fresh folder of this process holding what `make(folder)` writes; `make` runs once
    per test run (keyed by `name`, so give each different recipe its own name)."""
    cache = _run_folder(tmp_path_factory)
    made = cache / name
    with open(cache / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # others wait here while the first one makes them
        if not made.exists():
            building = cache / f"{name}.building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            make(building)
            building.rename(made)  # complete or absent, even if `make` failed halfway
    own = tmp_path_factory.mktemp(name)
    shutil.copytree(made, own, dirs_exist_ok=True)
    return own


def bytes_made_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[], bytes]
) -> bytes:
    """The bytes `make()` returns, made once per test run (see `made_once`)."""
    folder = made_once(tmp_path_factory, name, lambda f: (f / "data").write_bytes(make()))
    return (folder / "data").read_bytes()
