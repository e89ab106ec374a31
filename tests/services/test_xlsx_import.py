"""Excel workbooks in: typed cells, sheets, title rows, formulas, hidden sheets, bad files.

Workbooks are written here by openpyxl, and some were saved by LibreOffice Calc
(tests/data/xlsx/README.md): the reader must take both as Excel and WPS users send them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook as OpenpyxlWorkbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.models import Charge, Child, ImportBatch, Inspection, Kindergarten
from feecheck.services import workbooks
from feecheck.services.record_types import RECORD_TYPES
from feecheck.services.workbooks import CellError, Workbook
from tests.services.test_importing import _count, _import

DATA = Path(__file__).resolve().parent.parent / "data"
XLSX = DATA / "xlsx"
ORDER = list(RECORD_TYPES)
CHARGE_HEADER = ["票据号", "园所代码", "幼儿编号", "收费项目", "金额", "收费期间起", "收费期间止"]
CHARGE_HEADER += ["缴费日期", "收款账户"]


def _typed(cell: str) -> Any:
    """A CSV cell as a spreadsheet would type it: ISO dates as dates, amounts as numbers."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cell):
        return date.fromisoformat(cell)
    if re.fullmatch(r"\d+\.\d{1,2}", cell):
        return float(cell)
    return cell


def _book(sheets: dict[str, list[list[Any]]], path: Path, hidden: tuple[str, ...] = ()) -> Path:
    book = OpenpyxlWorkbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for cells in sheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd"
        if name in hidden:
            sheet.sheet_state = "hidden"
    book.save(path)
    return path


def _data_set(suffix: str = "en.utf8", typed: bool = True) -> dict[str, list[list[Any]]]:
    """The CSV samples of every type as a workbook's sheets, named after their types."""
    sheets = {}
    for name, record_type in RECORD_TYPES.items():
        path = DATA / f"{name}.{suffix}.csv"
        encoding = "gb18030" if "gb18030" in suffix else "utf-8-sig"
        with path.open(encoding=encoding, newline="") as f:
            rows = [row for row in csv.reader(f, delimiter=",")]
        sheets[record_type.sheet] = [
            [_typed(c) if typed and n else c for c in row] for n, row in enumerate(rows)
        ]
    return sheets


@pytest.fixture
def with_children(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    for name in ("kindergartens", "children"):
        assert _import(session, taxonomy, name, DATA / f"{name}.en.utf8.csv").rejected == 0


# --- the reader -----------------------------------------------------------------------------


def test_cells_arrive_typed_from_libreoffice() -> None:
    with Workbook(XLSX / "charges.libreoffice.xlsx") as book:
        (sheet,) = book.sheets
        rows = dict(book.rows(sheet))
    assert rows[2][:5] == ["R001", "K001", "C001", "保育教育费", Decimal("750")]
    assert rows[2][5] == datetime(2025, 9, 1)
    assert rows[2][8] == Decimal("6222001")  # Calc made the account a number
    with Workbook(XLSX / "charges-formulas.libreoffice.xlsx") as book:
        rows = dict(book.rows(book.sheets[0]))
    assert rows[2][4] == Decimal("750")  # =700+50, as Calc calculated it
    assert isinstance(rows[3][4], CellError) and rows[3][4] == "#DIV/0!"


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (Decimal("1234.5"), "amount", "1234.50"),
        (Decimal("0.30000000000000004"), "amount", "0.30"),  # 0.1+0.2
        (Decimal("1234.5599999999999"), "amount", "1234.56"),
        (Decimal("12.345"), "amount", "12.345"),  # refused by the amount's parser, not rounded
        (Decimal("110108"), "text", "110108"),
        (Decimal("3"), "count", "3"),
        (True, "bool", "是"),
        (datetime(2025, 9, 1), "date", "2025-09-01"),
        (datetime(2025, 9, 1), "month", "2025-09"),
        (None, "text", ""),
        (Decimal("20250901"), "date", "2025-09-01"),
    ],
)
def test_cell_text(value: Any, kind: str, text: str) -> None:
    assert workbooks.cell_text(value, kind) == text


def test_a_date_column_holding_serial_numbers_is_refused_with_the_date() -> None:
    text = workbooks.cell_text(Decimal("45901"), "date")
    assert isinstance(text, workbooks.BadCell)
    assert "not a date (as a date it would be 2025-09-01)" in text.en


# --- one type from a workbook ---------------------------------------------------------------


def test_every_type_from_libreoffice_reads_the_csv_records(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    for name in ORDER:
        report = _import(session, taxonomy, name, XLSX / f"{name}.libreoffice.xlsx")
        assert (report.status, report.encoding, report.rejected) == ("committed", "xlsx", 0), (
            report.error_lines()
        )
        assert report.created == report.rows_total > 0
    for name in ORDER:  # the same records as CSV, Chinese and GB18030: nothing changes
        report = _import(session, taxonomy, name, DATA / f"{name}.zh.gb18030.csv")
        assert (report.created, report.updated, report.rejected) == (0, 0, 0), report.error_lines()
        assert report.unchanged == report.rows_total


def test_amounts_are_exact_and_more_than_cents_is_an_error(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, with_children: None
) -> None:
    rows: list[list[Any]] = [CHARGE_HEADER]
    for receipt, amount in (("R1", 1234.5), ("R2", 0.1 + 0.2), ("R3", 12.345), ("R4", 800)):
        september = (date(2025, 9, 1), date(2025, 9, 30), date(2025, 9, 1))
        rows.append([receipt, "K001", "C001", "保教费", amount, *september, "6222001"])
    report = _import(session, taxonomy, "charges", _book({"收费记录": rows}, tmp_path / "c.xlsx"))
    amounts = dict(session.execute(select(Charge.receipt_no, Charge.amount)).all())
    assert amounts == {"R1": Decimal("1234.50"), "R2": Decimal("0.30"), "R4": Decimal("800.00")}
    assert report.rejected == 1
    (problem,) = report.errors
    assert (problem.where, problem.column, problem.line) == ("收费记录!E4", "金额", 4)
    assert "12.345" in problem.reason and "two decimals" in problem.reason
    assert report.error_lines()[0].startswith("c.xlsx:收费记录!E4: 金额: ")


def test_a_title_row_above_the_header_and_errors_at_excel_rows(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, with_children: None
) -> None:
    rows: list[list[Any]] = [["2025年9月收费明细"], [], CHARGE_HEADER]
    rows.append(["R1", "K001", "C001", "保教费", 750, date(2025, 9, 1), date(2025, 9, 30)])
    rows[-1] += [date(2025, 9, 1), "6222001"]
    rows.append(["R2", "K001", "C001", "保教费", 750, "九月", date(2025, 9, 30)])
    rows[-1] += [date(2025, 9, 1), "6222001"]
    rows.append(["合计", "", "", "", 1500])
    report = _import(session, taxonomy, "charges", _book({"Sheet1": rows}, tmp_path / "t.xlsx"))
    assert (report.created, report.rejected) == (1, 1)
    assert [p.where for p in report.errors] == ["Sheet1!F5"]
    assert any("header is on line 3" in w for w in report.warnings)
    assert any("totals" in w for w in report.warnings)  # 合计 under the list is not a record


def test_codes_typed_as_numbers_and_18_digit_numbers(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    rows: list[list[Any]] = [["园所代码", "园所名称", "行政区划代码", "办园性质", "是否寄宿"]]
    rows.append([1001, "一园", 110108, "公办", True])
    rows.append([110101199001011234, "二园", 110108, "公办", False])  # cut to 15 digits
    report = _import(
        session, taxonomy, "kindergartens", _book({"幼儿园": rows}, tmp_path / "k.xlsx")
    )
    kindergarten = session.scalars(select(Kindergarten)).one()
    assert (kindergarten.code, kindergarten.region_code, kindergarten.boarding) == (
        "1001",
        "110108",
        True,
    )
    (problem,) = report.errors
    assert problem.where == "幼儿园!A3" and "15 digits" in problem.reason


def test_a_formula_is_read_as_its_calculated_value_or_refused(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, with_children: None
) -> None:
    report = _import(session, taxonomy, "charges", XLSX / "charges-formulas.libreoffice.xlsx")
    assert session.scalar(select(Charge.amount).where(Charge.receipt_no == "R001")) == 750
    (problem,) = report.errors
    assert problem.where == "收费记录!E3" and "#DIV/0!" in problem.reason
    # written by a program and never opened in Excel: no value, so no guess
    rows: list[list[Any]] = [CHARGE_HEADER]
    rows.append(["R9", "K001", "C001", "保教费", "=700+50", "2025-09-01", "2025-09-30"])
    rows[-1] += ["2025-09-01", "6222001"]
    report = _import(session, taxonomy, "charges", _book({"收费记录": rows}, tmp_path / "f.xlsx"))
    (problem,) = report.errors
    assert problem.where == "收费记录!E2" and "never calculated" in problem.reason
    assert session.scalar(select(Charge.id).where(Charge.receipt_no == "R9")) is None


def test_hidden_sheets_are_passed_over_or_refused(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    kindergartens = _data_set()["幼儿园"]
    lists = [["公办"], ["民办"]]  # the hidden list a template's drop-downs read
    path = _book({"Sheet1": kindergartens, "_lists": lists}, tmp_path / "a.xlsx", ("_lists",))
    report = _import(session, taxonomy, "kindergartens", path)
    assert (report.status, report.created) == ("committed", 3)
    assert any("hidden sheet '_lists'" in w for w in report.warnings)
    path = _book({"幼儿园": kindergartens, "Sheet1": [["x"]]}, tmp_path / "b.xlsx", ("幼儿园",))
    report = _import(session, taxonomy, "kindergartens", path)
    assert report.status == "failed" and report.exit_code == 2
    assert "'幼儿园' is hidden" in (report.message or "")


def test_a_missing_sheet_is_refused_naming_the_sheets(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    path = _book({"一月": [["x"]], "二月": [["y"]]}, tmp_path / "m.xlsx")
    report = _import(session, taxonomy, "charges", path)
    assert report.exit_code == 2 and "收费记录" in (report.message or "")
    assert "一月、二月" in (report.message or "")
    assert _count(session, ImportBatch) == 1  # the batch says so; nothing else is written


# --- broken files ---------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_corrupt_files_are_refused_and_nothing_is_written(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    good = _book(_data_set(), tmp_path / "good.xlsx").read_bytes()
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good[: len(good) // 2])
    not_a_zip = tmp_path / "x.xlsx"
    not_a_zip.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    no_workbook = _zip(tmp_path / "docx.xlsx", {"word/document.xml": b"<w/>"})
    bad_xml = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(tmp_path / "good.xlsx") as source, zipfile.ZipFile(bad_xml, "w") as z:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("sheet1.xml"):
                data = data[: len(data) - 40]  # the sheet's XML cut short
            z.writestr(info, data)
    for path in (truncated, not_a_zip, no_workbook, bad_xml):
        report = _import(session, taxonomy, "workbook", path)
        assert report.status == "failed" and report.exit_code == 2, path.name
        assert "nothing was written" in (report.message or ""), report.message
        assert _count(session, Kindergarten) == 0


def test_a_zip_bomb_is_refused_before_it_is_read(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    good = tmp_path / "good.xlsx"
    _book({"幼儿园": _data_set()["幼儿园"]}, good)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("sheet1.xml"):  # 64 MiB of spaces inside the sheet
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (64 << 20), 1)
            z.writestr(info.filename, data, zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 1 << 20
    report = _import(session, taxonomy, "kindergartens", bomb)
    assert report.exit_code == 2 and "zip bomb" in (report.message or "")
    assert _count(session, Kindergarten) == 0


# --- a whole workbook -----------------------------------------------------------------------


def test_a_workbook_imports_every_type_in_order_as_one_batch(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    sheets = {"说明": [["填表说明"]]}
    sheets |= dict(reversed(list(_data_set().items())))  # written last type first
    report = _import(session, taxonomy, "workbook", _book(sheets, tmp_path / "all.xlsx"))
    assert (report.status, report.rejected) == ("committed", 0), report.error_lines()
    assert [s.record_type for s in report.sheets] == ORDER  # kindergartens first, whatever
    assert report.created == report.rows_total == sum(s.rows for s in report.sheets) == 19
    assert any("'说明' is not named after a record type" in w for w in report.warnings)
    batch = session.scalars(select(ImportBatch)).one()
    assert (batch.record_type, batch.created) == ("workbook", 19)
    assert batch.warnings[0].startswith("幼儿园（kindergartens）：3 行")
    for name in ORDER:  # the CSV files say every record is there, unchanged
        again = _import(session, taxonomy, name, DATA / f"{name}.mixed.bom.csv")
        assert again.unchanged == again.rows_total and again.rejected == 0, again.error_lines()


def test_a_libreoffice_workbook_imports_like_the_csv_files(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(session, taxonomy, "workbook", XLSX / "workbook.libreoffice.xlsx")
    assert (report.status, report.created, report.rejected) == ("committed", 19, 0), (
        report.error_lines()
    )


def test_atomic_covers_the_whole_workbook(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheets = _data_set()
    sheets["检查记录"][-1][1] = "三月"  # the last row of the last sheet: a bad date
    path = _book(sheets, tmp_path / "all.xlsx")
    report = _import(session, taxonomy, "workbook", path, atomic=True)
    assert (report.status, report.rejected) == ("rejected", 1)
    assert [p.where for p in report.errors] == ["检查记录!B3"]
    assert _count(session, Kindergarten) == _count(session, Inspection) == 0
    report = _import(session, taxonomy, "workbook", path, dry_run=True)
    assert (report.status, report.created) == ("dry_run", 18)  # children saw kindergartens
    assert _count(session, Kindergarten) == 0
    report = _import(session, taxonomy, "workbook", path)  # the valid rows, committed
    assert (report.status, report.created, report.rejected) == ("committed", 18, 1)
    assert _count(session, Child) == 3


def test_a_workbook_with_a_sheet_missing_a_column_writes_nothing(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    sheets = _data_set()
    sheets["收费记录"] = [row[:-3] for row in sheets["收费记录"]]  # no account column
    report = _import(session, taxonomy, "workbook", _book(sheets, tmp_path / "all.xlsx"))
    assert report.exit_code == 2 and "收费记录" in (report.message or "")
    assert "account" in (report.message or "")
    assert _count(session, Kindergarten) == 0
    sheets = _data_set()
    sheets["收费"] = sheets["收费记录"]  # two sheets of charges
    report = _import(session, taxonomy, "workbook", _book(sheets, tmp_path / "two.xlsx"))
    assert report.exit_code == 2 and "both hold charges" in (report.message or "")


def test_a_csv_file_is_not_a_workbook(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(session, taxonomy, "workbook", DATA / "charges.en.utf8.csv")
    assert report.exit_code == 2 and ".xlsx" in (report.message or "")


def test_error_report_csv_names_the_cell(tmp_path: Path) -> None:
    from feecheck.services.exporting import error_report_csv

    data = error_report_csv(
        "c.xlsx",
        [{"line": 4, "column": "金额", "reason": "bad", "reason_zh": "错", "where": "收费记录!E4"}],
    )
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1][:3] == ["c.xlsx", "收费记录!E4", "金额"]


# --- round trips ----------------------------------------------------------------------------


def test_an_exported_workbook_imports_back_unchanged(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    from feecheck.services.demo import build_demo
    from feecheck.services.exporting import export_workbook

    build_demo(session, taxonomy)
    session.commit()
    path = tmp_path / "export.xlsx"
    written = export_workbook(session, list(RECORD_TYPES.values()), path)
    assert all(written[name] > 0 for name in ORDER)
    report = _import(session, taxonomy, "workbook", path, dry_run=True)
    assert report.rejected == 0, report.error_lines()[:5]
    assert {s.record_type: (s.rows, s.unchanged) for s in report.sheets} == {
        name: (rows, rows) for name, rows in written.items()
    }
    assert report.created == report.updated == 0


def test_a_filled_in_template_imports(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The workbook template (drop-downs on a hidden list sheet or inline), filled in as a
    person would, in the sheets it names."""
    from openpyxl import load_workbook

    from feecheck.services.exporting import workbook_template_xlsx

    path = tmp_path / "template.xlsx"
    path.write_bytes(workbook_template_xlsx())
    book = load_workbook(path)
    book["幼儿园"].append(["K9", "九园", "110108", "公办", "", "否", 90])
    book["幼儿"].append(["K9", "C1", "小明", date(2020, 1, 2), "是", date(2023, 9, 1)])
    book.save(path)
    report = _import(session, taxonomy, "workbook", path)
    assert (report.status, report.created, report.rejected) == ("committed", 2, 0), (
        report.error_lines()
    )
    assert [s.record_type for s in report.sheets] == ORDER  # the empty sheets too


# --- what an independent tester found -------------------------------------------------------


def _rewrite(path: Path, member_end: str, change: Any, out: Path) -> Path:
    """A copy of the workbook with one part's bytes changed (or the part left out: None)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(member_end):
                data = change(data)
                if data is None:
                    continue
            z.writestr(info.filename, data)
    return out


def _charge_rows(count: int) -> list[list[Any]]:
    september = [date(2025, 9, 1), date(2025, 9, 30), date(2025, 9, 1), "6222001"]
    return [CHARGE_HEADER] + [
        [f"X{n:06d}", "K001", "C001", "伙食费", 10, *september] for n in range(count)
    ]


def test_a_sheet_damaged_near_its_end_writes_nothing(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, with_children: None
) -> None:
    path = _book({"收费记录": _charge_rows(12_000)}, tmp_path / "big.xlsx")  # > 2 chunks
    broken = _rewrite(
        path, "sheet1.xml", lambda d: d[:-2000] + b"<row><c>" + d[-2000:], tmp_path / "b.xlsx"
    )
    report = _import(session, taxonomy, "charges", broken)
    assert report.exit_code == 2 and "damaged" in (report.message or "")
    assert "nothing was written" in (report.message or "")
    assert _count(session, Charge) == 0


def test_cells_the_file_describes_wrongly_reject_their_row(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, with_children: None
) -> None:
    path = XLSX / "charges.libreoffice.xlsx"  # Calc writes shared strings
    for name, pattern, replacement, cell, reason in (
        ("nan", rb'(<c r="E3"[^>]*><v>)[^<]*', rb"\g<1>NaN", "charges!E3", "#NUM!"),
        ("index", rb'(<c r="A2"[^>]*t="s"[^>]*><v>)\d+', rb"\g<1>9999", "charges!A2", "damaged"),
    ):
        changed = _rewrite(
            path,
            "sheet1.xml",
            lambda d, p=pattern, r=replacement: re.sub(p, r, d),
            tmp_path / f"{name}.xlsx",
        )
        report = _import(session, taxonomy, "charges", changed, dry_run=True)
        assert report.rejected == 1 and report.errors[0].where == cell, report.error_lines()
        assert reason in report.errors[0].reason


def test_a_month_typed_as_a_number_is_refused(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, with_children: None
) -> None:
    rows: list[list[Any]] = [["园所代码", "幼儿编号", "月份", "缺勤天数", "开园天数"]]
    rows += [["K001", "C001", 2025.10, 1, 20], ["K001", "C002", "2025.10", 1, 20]]
    report = _import(session, taxonomy, "absences", _book({"缺勤记录": rows}, tmp_path / "a.xlsx"))
    assert (report.created, report.rejected) == (1, 1)
    assert report.errors[0].where == "缺勤记录!C2" and "2025.1" in report.errors[0].reason


def test_merged_cells_spread_their_value(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    book = OpenpyxlWorkbook()
    sheet = book.active
    sheet.title = "幼儿园"
    sheet.append(["某区幼儿园名单"])
    sheet.append(["幼儿园", None, "行政区划代码", "办园性质"])
    sheet.append(["名称", "代码", None, None])
    sheet.append(["一园", "K1", "110108", "公办"])
    sheet.append(["二园", "K2", None, "民办普惠"])  # the district merged down its rows
    sheet.merge_cells("A2:B2")
    sheet.merge_cells("C2:C3")
    sheet.merge_cells("D2:D3")
    sheet.merge_cells("C4:C5")
    path = tmp_path / "m.xlsx"
    book.save(path)
    report = _import(session, taxonomy, "kindergartens", path)
    assert (report.created, report.rejected) == (2, 0), (report.message, report.error_lines())
    regions = dict(session.execute(select(Kindergarten.code, Kindergarten.region_code)).all())
    assert regions == {"K1": "110108", "K2": "110108"}


def test_what_a_cell_shows_is_what_is_read(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    book = OpenpyxlWorkbook()
    sheet = book.active
    sheet.title = "幼儿园"
    sheet.append(["园所代码", "园所名称", "行政区划代码", "办园性质"])
    sheet.append([12, "一园_x000D_", 110108, "公办"])
    sheet["A2"].number_format = "000000"  # shows 000012
    sheet.append(["合  计", "1所"])
    sheet.append(["单位负责人：", "王五", None, "填表人：张三"])
    path = tmp_path / "k.xlsx"
    book.save(path)
    report = _import(session, taxonomy, "kindergartens", path)
    assert (report.created, report.rejected) == (1, 0), report.error_lines()
    assert session.execute(select(Kindergarten.code, Kindergarten.name)).one() == ("000012", "一园")
    assert any("2 lines are totals, notes or page lines" in w for w in report.warnings)


def test_empty_and_very_hidden_sheets(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sheets = _data_set()
    sheets["退费"] = []
    report = _import(session, taxonomy, "workbook", _book(sheets, tmp_path / "e.xlsx"))
    assert (report.status, report.rejected) == ("committed", 0), report.message
    assert "refunds" not in [s.record_type for s in report.sheets]
    assert any("sheet '退费' is empty" in w for w in report.warnings)
    book = OpenpyxlWorkbook()
    book.active.title = "Sheet1"
    book.create_sheet("幼儿园").sheet_state = "veryHidden"
    book.save(tmp_path / "v.xlsx")
    report = _import(session, taxonomy, "kindergartens", tmp_path / "v.xlsx")
    assert report.exit_code == 2 and "very hidden" in (report.message or "")


def test_password_protected_and_old_workbooks_are_told_apart(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path
) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    encrypted = tmp_path / "e.xlsx"
    encrypted.write_bytes(ole + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512)
    old = tmp_path / "o.xls"
    old.write_bytes(ole + "Workbook".encode("utf-16-le") + b"\x00" * 512)
    for record_type in ("charges", "workbook"):
        report = _import(session, taxonomy, record_type, encrypted)
        assert report.exit_code == 2 and "password" in (report.message or "")
        report = _import(session, taxonomy, record_type, old)
        assert report.exit_code == 2 and "97-2003" in (report.message or "")
    missing = _rewrite(
        _book(_data_set(), tmp_path / "g.xlsx"), "sheet3.xml", lambda d: None, tmp_path / "m.xlsx"
    )
    report = _import(session, taxonomy, "workbook", missing)
    assert report.exit_code == 2 and "damaged" in (report.message or "")
