"""`feecheck import TYPE FILE.xlsx` and `feecheck import workbook FILE.xlsx`: counts per sheet,
errors as Excel names the cell, exit codes 0/1/2, and the findings of a workbook equal to those
of the CSV files it was made of."""

from __future__ import annotations

import csv
import io
import shlex
import zipfile
from pathlib import Path

from flask.testing import FlaskCliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

from feecheck.cli import main
from feecheck.extensions import db
from feecheck.models import ImportBatch, Kindergarten
from feecheck.services.record_types import RECORD_TYPES

DATA = Path(__file__).resolve().parent.parent / "data"
XLSX = DATA / "xlsx"


def _run(runner: FlaskCliRunner, command: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, shlex.split(command))


def _count(runner: FlaskCliRunner, model) -> int:  # type: ignore[no-untyped-def]
    return db.new_session(runner.app).scalar(select(func.count()).select_from(model)) or 0


def test_a_workbook_prints_each_sheet_and_exit_0(runner: FlaskCliRunner) -> None:
    path = XLSX / "workbook.libreoffice.xlsx"
    result = _run(runner, f"import workbook {path}")
    assert result.exit_code == 0, result.output
    assert "幼儿园 (kindergartens): 3 rows: created 3" in result.output
    assert "检查记录 (inspections): 2 rows: created 2" in result.output
    assert "19 rows (xlsx): created 19, updated 0, unchanged 0, rejected 0" in result.output
    assert "sheet '说明' is not named after a record type" in result.output
    again = _run(runner, f"import workbook {path} --dry-run")
    assert "unchanged 19" in again.output and again.exit_code == 0


def test_a_bad_cell_is_named_as_excel_names_it(runner: FlaskCliRunner, tmp_path: Path) -> None:
    for name in ("kindergartens", "children"):
        assert _run(runner, f"import {name} {DATA / f'{name}.en.utf8.csv'}").exit_code == 0
    path = XLSX / "charges-formulas.libreoffice.xlsx"
    result = _run(runner, f"import charges {path}")
    assert result.exit_code == 1
    assert f"{path}:收费记录!E3: 金额: 该单元格是 Excel 错误值 #DIV/0!" in result.output
    assert "created 1" in result.output


def test_unreadable_workbooks_exit_2_and_write_nothing(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes((XLSX / "workbook.libreoffice.xlsx").read_bytes()[:3000])
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<a>" + b"0" * (100 << 20) + b"</a>")
    missing = tmp_path / "missing.xlsx"
    book = Workbook()
    book.active.title = "一月"
    book.create_sheet("二月")
    book.save(missing)
    for path, reason in (
        (corrupt, "Excel 工作簿已损坏"),
        (bomb, "zip bomb"),
        (missing, "没有名为“收费记录”的工作表"),
    ):
        result = _run(runner, f"import charges {path}")
        assert result.exit_code == 2, (path.name, result.output)
        assert reason in result.output and "nothing was written" in result.output
    result = _run(runner, f"import workbook {corrupt} --atomic")
    assert result.exit_code == 2
    assert _count(runner, Kindergarten) == 0
    statuses = db.new_session(runner.app).scalars(select(ImportBatch.status)).all()
    assert statuses == ["failed"] * 4


def _sheets_from_csv(suffix: str) -> Workbook:
    """The CSV files of a data set as one workbook's sheets, cells as text (as a person pastes
    them): the import must read them as it reads the files."""
    book = Workbook()
    book.remove(book.active)
    for name, record_type in RECORD_TYPES.items():
        raw = (DATA / f"{name}.{suffix}.csv").read_bytes()
        text = raw.decode("gb18030" if "gb18030" in suffix else "utf-8-sig")
        sheet = book.create_sheet(record_type.sheet)
        for row in csv.reader(io.StringIO(text)):
            sheet.append(row)
    return book


def _findings(runner: FlaskCliRunner) -> list[list[str]]:
    result = _run(runner, "check --period 2025-09 --to 2026-01 --as-of 2026-03-01 --format csv")
    assert result.exit_code in (0, 3), result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    return sorted(rows[1:])


def test_a_workbook_gives_the_findings_of_its_csv_files(
    runner: FlaskCliRunner, tmp_path: Path
) -> None:
    connection = runner.app.config["DATABASE_BIND"]
    by_csv: dict[str, list[list[str]]] = {}
    for suffix in ("en.utf8", "zh.gb18030", "mixed.bom"):
        savepoint = connection.begin_nested()
        for name in RECORD_TYPES:
            path = DATA / f"{name}.{suffix}.csv"
            assert _run(runner, f"import {name} {path}").exit_code == 0
        by_csv[suffix] = _findings(runner)
        savepoint.rollback()
        assert _count(runner, Kindergarten) == 0
        path = tmp_path / f"{suffix}.xlsx"
        _sheets_from_csv(suffix).save(path)
        savepoint = connection.begin_nested()
        result = _run(runner, f"import workbook {path} --atomic")
        assert result.exit_code == 0, result.output
        assert _findings(runner) == by_csv[suffix]
        savepoint.rollback()
    assert by_csv["en.utf8"] == by_csv["zh.gb18030"] == by_csv["mixed.bom"]
    assert len(by_csv["en.utf8"]) > 0  # the data sets hold findings to compare
