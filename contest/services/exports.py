"""Data leaving the contest: the winners' exports, the entries' record, the leaderboard CSV.

Every winners' export is built on one function, `winners`, so the admin page, the downloads
and the CLI cannot disagree. Every CSV (winners, entries, leaderboard) is written by
`spreadsheet.csv_bytes`, and every text cell, in the CSVs and the XLSX alike, passes through
`spreadsheet.safe_cell`: a cell that a spreadsheet would run as a formula gets a leading '
(see that module for the exact rule). In the XLSX strings are also stored as text, never as
formulas.

Phones are written as people write them (`display_phone`): 010-1234-5678 for Korean numbers,
so they need no quote; a foreign number such as +44 20 7946 0958 starts with + and is
therefore written '+44 20 7946 0958.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy import select

from contest.core.extensions import db
from contest.core.formatting import SEOUL, seoul_time
from contest.core.phones import display_phone
from contest.models import Award, Category, Contest, Entry, Flag, Round, User
from contest.services import awards, ranking, receipts, spreadsheet, votes
from contest.services.audit import audit
from contest.storage import get_storage

# The files' contents (headers, award and status names, the ZIP's notes) are for the Korean
# prize office: they stay in Korean, untranslated, whatever the admin's page language.
WINNERS_HEADER = (
    "상",
    "부문",
    "부문 내 순서",
    "심사 순위",
    "접수번호",
    "제목",
    "이름",
    "이메일",
    "전화번호",
    "보호자 이름",
    "보호자 전화번호",
    "가중 평균",
    "심사 수",
    "공개 동의",
)
# Widths of the XLSX's columns in characters (a Hangul syllable counts about two), in
# WINNERS_HEADER order: wide enough for a receipt code, an e-mail or a title to be read whole.
_WINNERS_WIDTHS = (10, 14, 8, 8, 18, 32, 12, 28, 16, 12, 16, 10, 8, 10)
ENTRIES_HEADER = (
    "접수번호",
    "부문",
    "제목",
    "상태",
    "제외 사유",
    "접수 시각",
    "플래그",
    "수상",
    "개인정보 파기",
)
MISSING_LIST = "missing-originals.txt"
_CHUNK = 1024 * 1024

Cell = str | int | float


@dataclass(frozen=True)
class WinnerRow:
    """One award and its winner, as every winners' export writes it."""

    tier: str  # 대상, 최우수상, ...
    category: str
    position: int  # order within the category
    rank: int | None  # the rank the award was given for (`Award.rank`); None when unranked
    receipt: str  # as entrants see it: ABCD-EFGH-JKLMN
    title: str
    entrant_name: str
    email: str
    phone: str  # display format
    guardian_name: str  # minors only, else ""
    guardian_phone: str
    mean: float | None
    scores: int
    consent_publish: bool  # the winner agreed to publication of their name and work
    original_key: str | None  # not a column: the ZIP's source file

    def cells(self) -> tuple[Cell, ...]:
        """The row's cells, in `WINNERS_HEADER` order, as typed: each writer neutralises text."""
        return (
            self.tier,
            self.category,
            self.position,
            "" if self.rank is None else self.rank,
            self.receipt,
            self.title,
            self.entrant_name,
            self.email,
            self.phone,
            self.guardian_name,
            self.guardian_phone,
            "" if self.mean is None else round(self.mean, 2),
            self.scores,
            "예" if self.consent_publish else "아니오",
        )

    @property
    def zip_name(self) -> str:
        """<award>_<category>_<receipt>.<ext>, safe as a name inside a ZIP on any system."""
        suffix = PurePosixPath(self.original_key or "").suffix.lower()
        if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
            suffix = ".bin"
        return "_".join(_safe(p) for p in (self.tier, self.category, self.receipt)) + suffix


def winners(contest: Contest) -> list[WinnerRow]:
    """Every award of the contest with its winner's details and figures, in award order.

    The rank is the one each award was given for, read from the award; the counted scores
    and weighted mean are those of `ranking.results_round` (the round the awards were
    proposed from, unless a later round was opened since), aggregated for the winners alone.
    So the cost follows the number of awards, not of entries.
    """
    round_ = ranking.results_round(contest)
    given = awards.awards_of(contest)
    figures = ranking.entry_figures(round_, [a.entry_id for a in given]) if round_ else {}
    rows = []
    for award in given:
        entry = award.entry
        scores, mean = figures.get(award.entry_id, (0, None))
        tier = awards.tier_of(award.tier, award.category)
        original = entry.asset("original")
        rows.append(
            WinnerRow(
                tier=tier.name if tier else award.tier,
                category=award.category.name,
                position=award.position,
                rank=award.rank,
                receipt=entry.receipt_display,
                title=entry.title,
                entrant_name=entry.entrant_name,
                email=entry.email,
                phone=_phone(entry.phone),
                guardian_name=(entry.guardian_name or "") if entry.under14 else "",
                guardian_phone=_phone(entry.guardian_phone) if entry.under14 else "",
                mean=mean,
                scores=scores,
                consent_publish=entry.consent_publish,
                original_key=original.key if original else None,
            )
        )
    return rows


def winners_csv(rows: list[WinnerRow]) -> bytes:
    """The winners as CSV for Korean Excel: UTF-8 with a BOM, every field quoted."""
    return spreadsheet.csv_bytes(WINNERS_HEADER, (row.cells() for row in rows))


def winners_xlsx(rows: list[WinnerRow]) -> bytes:
    """The same rows as an Excel workbook; text is stored as text, never as a formula.

    Text cells are neutralised as in the CSV, so both files show the same cells: a workbook
    saved again as CSV, or a cell pasted elsewhere, must not become a formula either.
    """
    # Imported here, for the few who export: openpyxl takes a sixth of a second to import,
    # which every server, job worker and CLI command would otherwise pay at start.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "수상작"
    sheet.append(WINNERS_HEADER)
    for row in rows:
        sheet.append([spreadsheet.safe_cell(c) if isinstance(c, str) else c for c in row.cells()])
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl would take a leading = as a formula
            elif isinstance(cell.value, float):
                cell.number_format = "0.00"
    # For the prize office: the header stays in view, every column filters, nothing is cut.
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for cell, width in zip(sheet[1], _WINNERS_WIDTHS, strict=True):
        sheet.column_dimensions[cell.column_letter].width = width
        cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def winners_zip(rows: list[WinnerRow], csv_bytes: bytes) -> Iterator[bytes]:
    """The winners' untouched originals and winners.csv, as a ZIP made while it is sent.

    Nothing is held in memory beyond one chunk of a file: ZipFile writes into a sink whose
    bytes are handed out as soon as they are written. Entries are stored, not deflated:
    photos and videos are compressed already. An original missing from storage (see
    `doctor`) is listed in missing-originals.txt instead of breaking the download.
    """
    storage = get_storage()
    present = [r for r in rows if r.original_key and storage.exists(r.original_key)]
    missing = [r.receipt for r in rows if not (r.original_key and storage.exists(r.original_key))]
    stamp = datetime.now(SEOUL).timetuple()[:6]

    def generate() -> Iterator[bytes]:
        """The archive's bytes, as ZipFile writes them."""
        sink = ZipSink()
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
            for row in present:
                info = zipfile.ZipInfo(row.zip_name, date_time=stamp)
                info.file_size = storage.size(row.original_key)  # lets ZipFile choose ZIP64
                with storage.open(row.original_key) as source, archive.open(info, "w") as target:
                    while chunk := source.read(_CHUNK):
                        target.write(chunk)
                        yield sink.take()
                yield sink.take()
            archive.writestr(zipfile.ZipInfo("winners.csv", date_time=stamp), csv_bytes)
            if missing:
                text = "원본 파일이 없는 수상작:\n" + "\n".join(missing) + "\n"
                archive.writestr(zipfile.ZipInfo(MISSING_LIST, date_time=stamp), text)
        yield sink.take()

    return (chunk for chunk in generate() if chunk)


def entries_csv(contest: Contest) -> tuple[bytes, int]:
    """Every entry with its status, flags and award, for the record (no contact data).

    Returns the CSV and its number of rows.
    """
    # Columns, not ORM objects: at 100 000 entries, loading each whole Entry (and keeping it in
    # the session) cost more than writing the file.
    flags: dict[int, list[str]] = {}
    flag_query = (
        select(Flag.entry_id, Flag.kind, Flag.dismissed_at)
        .join(Entry, Entry.id == Flag.entry_id)
        .where(Entry.contest_id == contest.id)
        .order_by(Flag.id)
    )
    for entry_id, kind, dismissed_at in db.session.execute(flag_query):
        flags.setdefault(entry_id, []).append(kind + (" (해제)" if dismissed_at else ""))
    tier_names = awards.tier_names(contest)
    award_of = {
        entry_id: tier_names.get((category_id, tier), tier)
        for entry_id, category_id, tier in db.session.execute(
            select(Award.entry_id, Award.category_id, Award.tier).where(
                Award.contest_id == contest.id
            )
        )
    }
    query = (
        select(
            Entry.id,
            Entry.receipt,
            Category.name,
            Entry.title,
            Entry.status,
            Entry.rejected_reason,
            Entry.created_at,
            Entry.personal_data_purged_at,
        )
        .join(Category, Category.id == Entry.category_id)
        .where(Entry.contest_id == contest.id)
        .order_by(Entry.created_at, Entry.id)
    )
    status_names = {"submitted": "접수", "rejected": "제외"}
    lines = [
        (
            receipts.grouped(row.receipt),
            row.name,
            row.title,
            status_names.get(row.status, row.status),
            row.rejected_reason or "",
            seoul_time(row.created_at),
            "; ".join(flags.get(row.id, [])),
            award_of.get(row.id, ""),
            seoul_time(row.personal_data_purged_at),
        )
        for row in db.session.execute(query)
    ]
    return spreadsheet.csv_bytes(ENTRIES_HEADER, lines), len(lines)


VOTES_HEADER = ("부문", "순위", "접수번호", "공개 ID", "제목", "득표", "마지막 표 (서울)", "상태")


def votes_csv(contest: Contest) -> tuple[bytes, int]:
    """One row per entry with its counted votes (voided cards left out), in the order of
    `votes.peoples_choice_ranking`: the entries on display and every entry voted for.

    Returns the CSV and its number of rows.
    """
    names = {c.id: c.name for c in contest.categories}
    status_names = {"submitted": "접수", "rejected": "제외"}
    lines = [
        (
            names.get(s.category_id, ""),
            s.place,
            receipts.grouped(s.receipt),
            s.public_id,
            s.title,
            s.votes,
            seoul_time(s.last_vote_at),
            status_names.get(s.status, s.status),
        )
        for s in votes.peoples_choice_ranking(contest)
    ]
    return spreadsheet.csv_bytes(VOTES_HEADER, lines), len(lines)


def record_export(
    actor: User | None, what: str, contest: Contest, file_format: str, rows: int
) -> None:
    """Log a download of personal data: who (an admin, or "cli"), when, what, how many rows."""
    audit(
        actor,
        f"export-{what}",
        f"contest:{contest.id}",
        None,
        {
            "format": file_format,
            "rows": rows,
            "by": actor.username if actor else "cli",
        },
    )


def _phone(e164: str | None) -> str:
    """A stored E.164 number as people write it, or "" when there is none."""
    return display_phone(e164) if e164 else ""


def _safe(part: str) -> str:
    """A name part with only letters (Hangul too), digits and - left: _ separates the parts."""
    return re.sub(r"[^\w-]+|_+", "-", part).strip("-") or "x"


class ZipSink:
    """A write-only file for ZipFile whose bytes are taken out as soon as they are written.

    Shared by every ZIP streamed to a response (also `public_copies`).
    """

    def __init__(self) -> None:
        """An empty sink."""
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        """Keep the bytes until they are taken."""
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the bytes wait for `take`."""

    def take(self) -> bytes:
        """The bytes written since the last take."""
        data = b"".join(self._parts)
        self._parts.clear()
        return data


# The CSV is a file for the Korean prize office: its header and cells stay in Korean whatever
# the language of the admin who downloads it, and are deliberately not marked for translation.
CSV_HEADER = (
    "부문",
    "순위",
    "제목",
    "접수번호",
    "심사 수",
    "가중 평균",
    "표준편차",
    "최고-최저",
    "정규화 점수",
    "정족수 미달",
    "심사평",
)


def leaderboard_csv(
    standings: list[ranking.Standing], comments: dict[int, list[tuple[str, str]]] | None = None
) -> bytes:
    """The ranking as CSV for Korean Excel (`spreadsheet.csv_bytes`), every standing a row.

    Titles come from entrants and comments from judges: text cells are neutralised by the
    writer. The judges' comments (`ranking.judge_comments`) share one cell, a line each,
    "name: comment". The aggregates are passed as numbers, so the writer gives them two
    decimals and leaves them numbers (a -0.42 stays a number, with no ').
    """
    comments = comments or {}
    return spreadsheet.csv_bytes(
        CSV_HEADER,
        (
            (
                s.category,
                s.rank,
                s.title,
                s.receipt_display,
                s.scores,
                _fraction(s.mean),
                _fraction(s.stdev),
                _fraction(s.spread),
                _fraction(s.normalised),
                "예" if s.below_quorum else "",
                "\n".join(f"{name}: {text}" for name, text in comments.get(s.entry_id, [])),
            )
            for s in standings
        ),
    )


def round_leaderboard_csv(round_: Round, quorum: int) -> bytes:
    """A round's leaderboard as CSV, the one the admin page and `flask leaderboard` write.

    A ranking round's is its Schulze order (`ranking_round_csv`); the others carry the
    aggregates and the judges' comments (`leaderboard_csv`).
    """
    standings = ranking.leaderboard(round_, quorum)
    if round_.method == "ranking":
        return ranking_round_csv(standings)
    return leaderboard_csv(standings, ranking.judge_comments(round_))


RANKING_CSV_HEADER = (
    "순위",
    "부문",
    "제목",
    "접수번호",
    "직접 순위를 매긴 심사위원",
    "이전 라운드 가중 평균",
)


def ranking_round_csv(standings: list[ranking.Standing]) -> bytes:
    """A ranking round's Schulze order as CSV, the rank first (`ranking.schulze_counts`).

    No spreads or judges' comments: a ranking round has no scores. The judges column counts
    those who placed the entry themselves (not in the tie below their top N).
    """
    return spreadsheet.csv_bytes(
        RANKING_CSV_HEADER,
        (
            (s.rank, s.category, s.title, s.receipt_display, s.scores, _fraction(s.mean))
            for s in standings
        ),
    )


def _fraction(value: float | None) -> float | None:
    """An aggregate as a float, so the writer gives it two decimals even when it is whole."""
    return None if value is None else float(value)
