"""Admin downloads: the winners (CSV, XLSX, ZIP of originals, ZIP of clean copies for the
press) and the entries' record.

Each download of personal data is written to the audit log before it is sent: who, when,
what and how many rows (PIPA's access-log duty; see SECURITY-CHECKLIST C3).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, g, stream_with_context

from contest.admin import bp
from contest.core.database import write_transaction
from contest.models import Contest
from contest.services import exports, public_copies
from contest.services.contests import current_contest

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/export/winners.csv")
def export_winners_csv():
    """The winners with their contact details, as CSV for Korean Excel."""
    contest = current_contest()
    rows = exports.winners(contest)
    _log("winners", contest, "csv", len(rows))
    return _download(exports.winners_csv(rows), "text/csv; charset=utf-8", "winners.csv")


@bp.get("/export/winners.xlsx")
def export_winners_xlsx():
    """The same rows as an Excel workbook."""
    contest = current_contest()
    rows = exports.winners(contest)
    _log("winners", contest, "xlsx", len(rows))
    return _download(exports.winners_xlsx(rows), XLSX, "winners.xlsx")


@bp.get("/export/winners.zip")
def export_winners_zip():
    """The winners' untouched originals and winners.csv, streamed as one ZIP."""
    contest = current_contest()
    rows = exports.winners(contest)
    _log("winners", contest, "zip", len(rows))
    body = exports.winners_zip(rows, exports.winners_csv(rows))
    return _download(body, "application/zip", "winners.zip")


@bp.get("/export/winners-public.zip")
def export_winners_public_zip():
    """Clean copies of the published winners' works for the press: no metadata, no names."""
    contest = current_contest()
    works, withheld = public_copies.public_works(contest)
    _log("winners-public", contest, "zip", len(works))
    body = public_copies.public_zip(works, withheld)
    return _download(stream_with_context(body), "application/zip", "winners-public.zip")


@bp.get("/export/entries.csv")
def export_entries_csv():
    """Every entry with its status, flags and award, for the record (no contact data)."""
    contest = current_contest()
    body, count = exports.entries_csv(contest)
    _log("entries", contest, "csv", count)
    return _download(body, "text/csv; charset=utf-8", "entries.csv")


@bp.get("/export/votes.csv")
def export_votes_csv():
    """The people's-choice vote: each entry's counted votes (voided cards left out)."""
    contest = current_contest()
    body, count = exports.votes_csv(contest)
    _log("votes", contest, "csv", count)
    return _download(body, "text/csv; charset=utf-8", "votes.csv")


def _log(what: str, contest: Contest, file_format: str, rows: int) -> None:
    # Personal data leaving the system is audited: the one write these GETs make.
    with write_transaction():
        exports.record_export(g.user, what, contest, file_format, rows)


def _download(body: bytes | Iterable[bytes], mimetype: str, filename: str) -> Response:
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Personal data: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response
