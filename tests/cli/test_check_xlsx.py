"""`feecheck check --format xlsx`: the CSV's rows on a first sheet, typed; totals on a second;
to -o FILE or a redirected standard output, never to a terminal."""

from __future__ import annotations

import csv
import io
import shlex
from decimal import Decimal
from pathlib import Path
from typing import Any

import click.testing
import pytest
from flask.testing import FlaskCliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from feecheck.cli import main
from feecheck.extensions import db
from feecheck.models import CheckRun
from feecheck.services.reporting import CSV_COLUMNS, TOTALS_COLUMNS

CHECK = "check --period 2025-09 --to 2025-12 --as-of 2026-11-23"


@pytest.fixture
def demo(runner: FlaskCliRunner) -> FlaskCliRunner:
    assert runner.invoke(main, ["demo"]).exit_code == 0
    return runner


def _unescape(cell: str) -> str:
    """A CSV cell without the apostrophe write_csv puts before = + - @ tab CR."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def test_the_first_sheet_holds_the_csv_rows(demo: FlaskCliRunner, tmp_path: Path) -> None:
    as_csv = demo.invoke(main, shlex.split(f"{CHECK} --format csv"))
    assert as_csv.exit_code == 3, as_csv.output
    csv_rows = [[_unescape(c) for c in row] for row in csv.reader(io.StringIO(as_csv.stdout))]
    assert csv_rows[0] == CSV_COLUMNS and len(csv_rows) > 10

    out = tmp_path / "findings.xlsx"
    as_xlsx = demo.invoke(main, shlex.split(f"{CHECK} --format xlsx -o {out}"))
    assert as_xlsx.exit_code == 3, as_xlsx.output  # violations: exit 3, as before
    assert as_xlsx.stdout == ""  # the workbook went to the file
    book = load_workbook(out)
    assert book.sheetnames == ["findings", "totals"]
    ws = book["findings"]
    assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    assert ws.auto_filter.ref == f"A1:J{len(csv_rows)}"
    rows = list(ws.iter_rows(max_col=len(CSV_COLUMNS)))
    amount = CSV_COLUMNS.index("amount_due")
    period = CSV_COLUMNS.index("period")
    as_text = [[c.value for c in rows[0]]]
    for row in rows[1:]:
        cells = [_text(c.value) for c in row]
        if row[amount].value is not None:
            cells[amount] = f"{Decimal(str(row[amount].value)):.2f}"
        as_text.append(cells)
    assert as_text == csv_rows  # the same columns, rows and order
    amounts = [row[amount] for row in rows[1:] if row[amount].value is not None]
    assert amounts, "the demo's findings include refunds due"
    assert all(c.data_type == "n" and c.number_format == "0.00" for c in amounts)
    assert all(row[period].data_type == "s" for row in rows[1:])
    assert {len(row[period].value) for row in rows[1:]} == {7}  # YYYY-MM, as text

    totals = [[c.value for c in row] for row in book["totals"].iter_rows()]
    assert totals[0] == TOTALS_COLUMNS
    *by_rule, grand = totals[1:]
    assert grand[2] == len(csv_rows) - 1
    due = sum((Decimal(r[amount]) for r in csv_rows[1:] if r[amount]), Decimal(0))
    assert Decimal(str(grand[3])).quantize(Decimal("0.01")) == due
    per_rule = [r for r in by_rule if r[0] != "合计 / total"]
    assert sum(r[2] for r in per_rule) == len(csv_rows) - 1
    violations = sum(1 for r in csv_rows[1:] if r[1] == "violation")
    (violation_total,) = [r for r in by_rule if r[:2] == ["合计 / total", "violation"]]
    assert violation_total[2] == violations > 0


def test_a_workbook_goes_to_a_redirected_standard_output(demo: FlaskCliRunner) -> None:
    result = demo.invoke(main, shlex.split(f"{CHECK} --kindergarten K110108001 --format xlsx"))
    assert result.exit_code == 0, result.output  # a clean kindergarten: exit 0
    book = load_workbook(io.BytesIO(result.stdout_bytes))
    assert [c.value for c in book["findings"][1]] == CSV_COLUMNS
    assert book["findings"].max_row == 1
    assert [c.value for c in book["totals"][5]] == ["合计 / total", None, 0, 0]


def test_a_workbook_is_not_written_to_a_terminal(
    demo: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo.app.app_context():
        runs = db.session.scalar(select(func.count()).select_from(CheckRun))
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    result = demo.invoke(main, shlex.split(f"{CHECK} --format xlsx"))
    assert result.exit_code == 2
    assert "-o FILE.xlsx" in result.output and len(result.output.strip().splitlines()) == 1
    assert result.stdout_bytes == b""
    with demo.app.app_context():  # refused before anything was checked
        assert db.session.scalar(select(func.count()).select_from(CheckRun)) == runs


def test_other_formats_can_go_to_a_file_too(demo: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "findings.csv"
    result = demo.invoke(main, shlex.split(f"{CHECK} --format csv -o {out}"))
    assert result.exit_code == 3 and result.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and len(lines) > 10
    missing = demo.invoke(main, shlex.split(f"{CHECK} -o {tmp_path}/nowhere/f.txt"))
    assert missing.exit_code == 2 and "no such directory" in missing.output


def test_o_names_the_format_and_a_missing_folder_is_one_line(
    demo: FlaskCliRunner, tmp_path: Path
) -> None:
    """`-o FILE.xlsx` without --format writes a workbook (check, ledger, export); an -o in a
    folder that does not exist is refused with one line, exit 2, for every command."""
    for command in (CHECK, "ledger", "export charges"):
        out = tmp_path / f"{command.split()[0]}.xlsx"
        result = demo.invoke(main, [*shlex.split(command), "-o", str(out)])
        assert result.exit_code in (0, 3), result.output
        assert out.read_bytes()[:4] == b"PK\x03\x04", command
        missing = tmp_path / "nowhere" / "x.xlsx"
        result = demo.invoke(main, [*shlex.split(command), "-o", str(missing)])
        assert result.exit_code == 2 and "no such directory" in result.output, result.output
        assert "Traceback" not in result.output
    json_out = tmp_path / "ledger.json"
    assert demo.invoke(main, ["ledger", "-o", str(json_out)]).exit_code == 0
    assert json_out.read_text(encoding="utf-8").lstrip().startswith("{")


def test_explain_is_refused_where_it_would_be_dropped(demo: FlaskCliRunner) -> None:
    for output in ("csv", "xlsx"):
        result = demo.invoke(main, shlex.split(f"{CHECK} --explain --format {output}"))
        assert result.exit_code == 2 and "--explain adds its chains" in result.output
    assert demo.invoke(main, shlex.split(f"{CHECK} --explain --format json")).exit_code == 3
