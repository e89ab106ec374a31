"""`feecheck export TYPE|all`: a workbook with a sheet per type, or a CSV file, inside a region;
what is exported imports back unchanged."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

import click.testing
import pytest
from flask.testing import FlaskCliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from feecheck.cli import main
from feecheck.extensions import db
from feecheck.models import Charge, Kindergarten
from feecheck.services.exporting import header_row
from feecheck.services.record_types import RECORD_TYPES

SHEETS = ["幼儿园", "幼儿", "收费标准", "收费记录", "财政经费", "退费", "缺勤记录", "检查记录"]


@pytest.fixture
def demo(runner: FlaskCliRunner) -> FlaskCliRunner:
    assert runner.invoke(main, ["demo"]).exit_code == 0
    return runner


def _count(runner: FlaskCliRunner, model, region: str | None = None) -> int:  # type: ignore[no-untyped-def]
    statement = select(func.count()).select_from(model)
    if model is not Kindergarten:
        statement = statement.join(Kindergarten, Kindergarten.id == model.kindergarten_id)
    if region:
        statement = statement.where(Kindergarten.region_code == region)
    with runner.app.app_context():
        return db.session.scalar(statement) or 0


def test_all_is_one_workbook_with_a_sheet_per_type(demo: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "all.xlsx"
    result = demo.invoke(main, shlex.split(f"export all -o {out}"))
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == SHEETS == [rt.sheet for rt in RECORD_TYPES.values()]
    for rt in RECORD_TYPES.values():
        ws = book[rt.sheet]
        assert [c.value for c in ws[1]] == header_row(rt, "zh")
        assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
        assert ws.max_row > 1, rt.name
    assert book["收费记录"].max_row - 1 == _count(demo, Charge)
    assert book["幼儿园"].max_row - 1 == _count(demo, Kindergarten)
    assert f"收费记录 {_count(demo, Charge)}" in result.output  # the summary, on stderr
    charge = book["收费记录"]
    assert charge["E2"].number_format == "0.00" and charge["E2"].data_type == "n"
    assert charge["F2"].is_date and charge["F2"].number_format == "yyyy-mm-dd"


def test_one_type_in_a_region_to_standard_output(demo: FlaskCliRunner) -> None:
    result = demo.invoke(main, shlex.split("export charges --region 110108 --format xlsx"))
    assert result.exit_code == 0, result.output
    book = load_workbook(io.BytesIO(result.stdout_bytes))
    assert book.sheetnames == ["收费记录"]
    codes = {r[1].value for r in book["收费记录"].iter_rows(min_row=2)}
    with demo.app.app_context():
        haidian = set(
            db.session.scalars(
                select(Kindergarten.code).where(Kindergarten.region_code == "110108")
            )
        )
    assert codes and codes <= haidian
    assert book["收费记录"].max_row - 1 == _count(demo, Charge, "110108") < _count(demo, Charge)


def test_csv_imports_back_unchanged(demo: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "charges.csv"
    result = demo.invoke(main, shlex.split(f"export charges -o {out}"))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it right
    assert data.decode("utf-8-sig").splitlines()[0] == ",".join(
        header_row(RECORD_TYPES["charges"], "zh")
    )
    again = demo.invoke(main, ["import", "charges", str(out)])
    assert again.exit_code == 0, again.output
    assert f"created 0, updated 0, unchanged {_count(demo, Charge)}, rejected 0" in again.output
    english = demo.invoke(main, shlex.split("export kindergartens --language en"))
    assert english.stdout.lstrip("\ufeff").startswith("code,name,region_code,category")


def test_refusals_are_one_line(demo: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for args, words in (
        ("export all --format csv", "--format xlsx"),
        ("export charges --region 12", "6-digit"),
        ("export pets", "Invalid value"),
    ):
        result = demo.invoke(main, shlex.split(args))
        assert result.exit_code == 2 and words in result.output, args
    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    result = demo.invoke(main, shlex.split("export all"))
    assert result.exit_code == 2 and result.stdout_bytes == b""
    assert "-o FILE.xlsx" in result.output and len(result.output.strip().splitlines()) == 1
