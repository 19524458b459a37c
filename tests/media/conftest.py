"""Fixtures for the media tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[[bytes, str], Path]:
    """Write bytes to a file in the test's temp dir and return its path."""

    def write(data: bytes, name: str = "upload") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write
