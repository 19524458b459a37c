"""Files for spreadsheets: the one CSV writer and the one formula neutraliser of every export.

A cell that a spreadsheet would run as a formula (CSV or formula injection) is written with a
leading ', which Excel, LibreOffice and Google Sheets show as text. The test is made on what a
spreadsheet, or a person copying the cell, might end up reading, not only on the raw text:

- the text is NFKC-normalised first, so full-width or small forms (＝ ＋ － ＠, ﹦ ...) count as
  the ASCII characters they fold to; the raw text is tested too, because NFKC can also hide a
  start (= followed by U+0338 composes to ≠);
- leading invisible characters (Unicode format characters "Cf" such as U+200B, U+200C, U+200D,
  U+2060 and the U+FEFF BOM, other control characters) and leading whitespace (spaces,
  no-break and ideographic spaces) are looked past: an importer or a paste may drop them;
- a cell is neutralised when the first character left is = + - @, or when it starts (after
  the invisible characters) with a tab, CR or LF.

The cell keeps the text as the entrant typed it, full-width forms and invisible characters
included, behind the ': what is shown is what was sent, and nothing can run. Neutralising is
idempotent (a cell that starts with ' is never changed again).

Plain Python: no Flask, no database, so every export and the CLI share it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

FORMULA_STARTS = frozenset("=+-@\t\r\n")
# Characters a spreadsheet may skip, or a person not see, before the one that counts.
_UNSEEN_CATEGORIES = frozenset({"Cc", "Cf"})

Cell = str | int | float | Decimal | None


def safe_cell(value: str) -> str:
    """`value` as a spreadsheet shows it as text: with a leading ' if it could start a formula."""
    return "'" + value if starts_formula(value) else value


def starts_formula(value: str) -> bool:
    """Whether the raw or NFKC form of `value`, past invisible characters, starts a formula."""
    return _first_counts(value) or _first_counts(unicodedata.normalize("NFKC", value))


def csv_bytes(header: Iterable[str], rows: Iterable[Iterable[Cell]]) -> bytes:
    """A CSV for Korean Excel: UTF-8 with a BOM, every field quoted, CRLF line ends.

    Every text cell passes through `safe_cell` here, so no export can forget it; numbers are
    given as numbers and written as numbers (floats with two decimals: a -0.42 we computed
    stays -0.42, not '-0.42). None is an empty cell.
    """
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(_cell(cell) for cell in header)
    for row in rows:
        writer.writerow(_cell(cell) for cell in row)
    # The BOM is what makes Excel read the file as UTF-8 rather than the Korean code page.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: Cell) -> str:
    """One field's text: neutralised if text, two decimals if a fraction, digits if whole."""
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_cell(value)
    if isinstance(value, float | Decimal):
        return f"{value:.2f}"
    return str(value)


def _first_counts(text: str) -> bool:
    """Whether the first character of `text` that a spreadsheet would not skip starts a formula."""
    for char in text:
        # Tab, CR and LF are checked before whitespace is skipped: they are starts themselves.
        if char in FORMULA_STARTS:
            return True
        if not (char.isspace() or unicodedata.category(char) in _UNSEEN_CATEGORIES):
            return False
    return False
