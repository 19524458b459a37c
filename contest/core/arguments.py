"""Numbers from the URL, kept within what the database can hold.

A number past 64 bits in a path (`/admin/entries/99999999999999999999`) or a query string
(`?page=99999999999999999999`) would reach SQLite or PostgreSQL and fail there as a 500. Paths
use the bounded `int` converter registered by `init_app` (out of range: 404, like any id that
does not exist); query strings are read with `page_arg` and `id_arg` (out of range: 400).
"""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

ID_MAX = 2**63 - 1  # a signed 64-bit integer: the largest id either database stores
# Far beyond any real list (50 a page), and small enough that the offset it makes stays
# within 64 bits.
PAGE_MAX = 10**9


class BoundedIntegerConverter(IntegerConverter):
    """Werkzeug's `int` converter, matching only ids a database column can hold."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - Werkzeug's own parameter name
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Make `<int:...>` in every route bounded (before any blueprint adds its rules)."""
    app.url_map.converters["int"] = BoundedIntegerConverter


def page_arg(name: str = "page") -> int:
    """The page asked for, 1 when none or not a number; a 400 for one out of range."""
    value = _int_or_none(request.args.get(name))
    if value is None:
        return 1
    if not 1 <= value <= PAGE_MAX:
        abort(400)
    return value


def id_arg(name: str) -> int | None:
    """An id from the query string, None when missing or not a number; a 400 out of range."""
    return id_from(request.args.get(name))


def id_from(text: str | None) -> int | None:
    """An id sent some other way (a header such as Last-Event-ID), by the same rules."""
    value = _int_or_none(text)
    if value is not None and not 0 <= value <= ID_MAX:
        abort(400)
    return value


def _int_or_none(text: str | None) -> int | None:
    text = (text or "").strip()
    # Only ASCII digits: int() would also take "１２", "1_000" and a sign.
    if not text or not text.isascii() or not text.lstrip("-").isdigit():
        return None
    # Past 20 characters a number is beyond 64 bits whatever its digits (and int() refuses
    # thousands of them with a ValueError): out of range for every caller.
    return int(text) if len(text) <= 20 else ID_MAX + 1
