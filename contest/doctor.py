"""Consistency between the database and the stored files, and its repair.

Every asset row must have its file, of the recorded size; every stored file must belong to a
row; temporary files belong only to uploads still in flight. A crash or a power cut can leave
orphans and temporary files behind (never a row without its file: files are in place before the
row commits), and a lost derivative can always be made again from its original.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from .extensions import db
from .media import Rejected
from .media.photo import process_photo
from .models import Asset
from .storage import LocalStorage

STALE_TEMP_SECONDS = 24 * 3600
KINDS = (
    "missing-original",
    "damaged-original",  # not the size recorded when it was accepted
    "missing-derivative",
    "damaged-derivative",
    "orphan-file",
    "stale-temp",
)


@dataclass
class Problem:
    """One inconsistency: what it is, and whether `repair` can fix it."""

    kind: str  # one of KINDS
    detail: str
    key: str | None = None
    asset_id: int | None = None
    path: Path | None = None

    @property
    def repairable(self) -> bool:
        """Whether `repair` can mend it (a lost original cannot be made again)."""
        return self.kind not in ("missing-original", "damaged-original")


def examine(storage: LocalStorage) -> list[Problem]:
    """Every inconsistency between the database and the storage, in a stable order."""
    problems: list[Problem] = []
    known: set[str] = set()
    for asset in db.session.scalars(select(Asset).order_by(Asset.id)):
        known.add(asset.key)
        problems.extend(_check_asset(storage, asset))
    for key in sorted(storage.keys()):
        if key not in known:
            problems.append(
                Problem("orphan-file", f"파일에 해당하는 응모작이 없음: {key}", key=key)
            )
    for path in sorted(_stale_temp_files(storage)):
        problems.append(Problem("stale-temp", f"중단된 업로드의 임시 파일: {path.name}", path=path))
    return problems


def repair(storage: LocalStorage, problems: list[Problem]) -> list[Problem]:
    """Mend what can be mended (the caller commits); returns the problems that remain."""
    remaining = []
    for problem in problems:
        if not problem.repairable:
            remaining.append(problem)
        elif problem.kind == "orphan-file":
            storage.delete(problem.key)
        elif problem.kind == "stale-temp":
            problem.path.unlink(missing_ok=True)
        elif not _rebuild_derivative(storage, db.session.get(Asset, problem.asset_id)):
            remaining.append(problem)
    return remaining


def _check_asset(storage: LocalStorage, asset: Asset) -> Iterator[Problem]:
    label = f"응모작 {asset.entry.receipt_display}의 {asset.role}"
    which = "original" if asset.role == "original" else "derivative"
    if not storage.exists(asset.key):
        yield Problem(f"missing-{which}", f"{label} 파일이 없음: {asset.key}", asset.key, asset.id)
    elif (size := storage.size(asset.key)) != asset.size:
        detail = f"{label} 파일 크기 {size}가 기록된 {asset.size}와 다름: {asset.key}"
        yield Problem(f"damaged-{which}", detail, asset.key, asset.id)


def _rebuild_derivative(storage: LocalStorage, asset: Asset) -> bool:
    original = asset.entry.asset("original")
    if original is None or not storage.exists(original.key):
        return False
    try:
        photo = process_photo(storage.path(original.key), min_long_side=1, max_pixels=10**10)
    except Rejected:
        return False
    derivative = photo.preview if asset.role == "preview" else photo.thumbnail
    storage.delete(asset.key)
    asset.size = storage.put(derivative.data, asset.key)
    asset.width, asset.height = derivative.width, derivative.height
    return True


def _stale_temp_files(storage: LocalStorage) -> Iterator[Path]:
    """Temporary files whose upload is over: its process is gone, or it is a day old."""
    now = time.time()
    for path in storage.temp_files():
        if now - path.stat().st_mtime > STALE_TEMP_SECONDS or not _writer_alive(path):
            yield path


def _writer_alive(path: Path) -> bool:
    # Names are upload-<pid>-<random>.part (see LocalStorage.temp_file).
    try:
        pid = int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
