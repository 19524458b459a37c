"""`flask doctor [--repair]`: the database and the stored files agree, or it says where not."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from contest.core.extensions import db
from contest.models import Asset

from .conftest import stored_files


def _asset(app, role: str) -> Asset:
    with app.app_context():
        return db.session.scalars(select(Asset).where(Asset.role == role)).one()


def _dead_pid() -> int:
    """The pid of a process that has certainly ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_consistent_store_passes(runner, submit):
    submit()
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "No problems found." in result.output


def test_orphans_and_crash_leftovers_are_reported_then_removed(runner, submit, upload_folder):
    submit()
    kept = stored_files(upload_folder)
    orphan = upload_folder / "originals" / "zz" / "zzOrphan.jpg"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash between rename and commit")
    stale = upload_folder / "tmp" / f"upload-{_dead_pid()}-0123456789abcdef.part"
    stale.write_bytes(b"half an upload")
    live = upload_folder / "tmp" / f"upload-{os.getpid()}-fedcba9876543210.part"
    live.write_bytes(b"an upload still arriving")

    report = runner.invoke(args=["doctor"])
    assert report.exit_code == 1
    assert "orphan-file" in report.output and "zzOrphan.jpg" in report.output
    assert "stale-temp" in report.output and stale.name in report.output
    assert live.name not in report.output
    assert orphan.exists() and stale.exists()  # reporting changes nothing

    repaired = runner.invoke(args=["doctor", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert stored_files(upload_folder) == sorted([*kept, f"tmp/{live.name}"])
    assert runner.invoke(args=["doctor"]).exit_code == 0


def test_a_lost_derivative_is_rebuilt_from_the_original(app, runner, submit, upload_folder):
    submit()
    thumbnail = _asset(app, "thumbnail")
    before = (upload_folder / thumbnail.key).read_bytes()
    (upload_folder / thumbnail.key).unlink()

    report = runner.invoke(args=["doctor"])
    assert report.exit_code == 1 and "missing-derivative" in report.output

    assert runner.invoke(args=["doctor", "--repair"]).exit_code == 0
    rebuilt = (upload_folder / _asset(app, "thumbnail").key).read_bytes()  # under a new key
    assert rebuilt[:3] == b"\xff\xd8\xff" and len(rebuilt) == len(before)
    assert runner.invoke(args=["doctor"]).exit_code == 0


def test_a_damaged_derivative_is_rebuilt(app, runner, submit, upload_folder):
    submit()
    preview = _asset(app, "preview")
    path = upload_folder / preview.key
    path.write_bytes(path.read_bytes()[:100])
    report = runner.invoke(args=["doctor"])
    assert report.exit_code == 1 and "damaged-derivative" in report.output
    assert runner.invoke(args=["doctor", "--repair"]).exit_code == 0
    rebuilt = _asset(app, "preview")
    assert (upload_folder / rebuilt.key).stat().st_size == rebuilt.size == preview.size
    assert not path.exists()  # the damaged file went once the new one was recorded


def test_a_lost_original_is_reported_and_cannot_be_repaired(app, runner, submit, upload_folder):
    submit()
    original = _asset(app, "original")
    (upload_folder / original.key).unlink()
    result = runner.invoke(args=["doctor", "--repair"])
    assert result.exit_code == 1
    assert "missing-original" in result.output
    assert "cannot repair" in result.output
