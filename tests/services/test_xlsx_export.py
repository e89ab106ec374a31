"""The one xlsx writer (services.exporting.XlsxWriter), record exports as workbooks and the
import templates with drop-down lists: read back with openpyxl, styles included."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook as OpenpyxlWorkbook
from sqlalchemy.orm import Session

from feecheck.services import exporting
from feecheck.services.demo import build_demo
from feecheck.services.exporting import (
    XlsxWriter,
    display_width,
    drop_downs,
    export_rows,
    export_workbook,
    header_row,
    template_xlsx,
    workbook_template_xlsx,
    xlsx_bytes,
)
from feecheck.services.record_types import ENUM_FIELDS, RECORD_TYPES, kind_of
from tests.factories import make_charge, make_child, make_kindergarten


def _book(data: bytes) -> OpenpyxlWorkbook:
    return load_workbook(io.BytesIO(data))


def _validations(ws: Any) -> dict[str, str]:
    """Column letter -> the list formula of its validation (each covers rows 2..5000)."""
    found = {}
    for dv in ws.data_validations.dataValidation:
        assert dv.type == "list"
        (ref,) = str(dv.sqref).split()
        letter = ref.split(":")[0].rstrip("0123456789")
        assert ref == f"{letter}2:{letter}5000"
        found[letter] = dv.formula1
    return found


def _options(book: OpenpyxlWorkbook, formula: str) -> list[str]:
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    sheet, ref = formula.split("!")
    cells = book[sheet.strip("'")][ref.replace("$", "")]
    return [row[0].value for row in cells]


def test_cells_are_typed_and_the_header_is_bold_frozen_and_filtered() -> None:
    book = XlsxWriter("zh")
    rows = [
        ["=1+1", Decimal("1200.3"), date(2025, 9, 1), 31, True, None, "-5", "@x", "#N/A"],
        ["幼儿园", Decimal("0.10"), date(2026, 1, 31), 0, False, "", "\tx", "+1", "ok"],
    ]
    n = book.write_sheet(
        "检查", ["名称", "金额", "日期", "天数", "是否", "空", "=SUM(A1)", "c", "d"], rows
    )
    assert n == 2
    ws = _book(book.to_bytes())["检查"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:I3"
    assert all(c.font.b and c.data_type == "s" for c in ws[1])
    assert ws["G1"].value == "=SUM(A1)"  # a header is never a formula either
    a2, b2, c2, d2, e2, f2, g2, h2, i2 = ws[2]
    assert (a2.value, a2.data_type) == ("=1+1", "s")  # text, no apostrophe added
    assert a2.quotePrefix
    assert (b2.data_type, b2.value, b2.number_format) == ("n", 1200.3, "0.00")
    assert isinstance(c2.value, datetime) and c2.value.date() == date(2025, 9, 1)
    assert c2.number_format == "yyyy-mm-dd"
    assert (d2.value, d2.data_type, d2.number_format) == (31, "n", "General")
    assert (e2.value, f2.value) == ("是", None)
    assert [(c.value, c.data_type) for c in (g2, h2, i2)] == [
        ("-5", "s"),
        ("@x", "s"),
        ("#N/A", "s"),
    ]
    assert [c.value for c in ws[3]][4:8] == ["否", None, "\tx", "+1"]
    assert not ws["A3"].quotePrefix and ws["H3"].quotePrefix


def test_bools_read_as_the_csv_writes_them() -> None:
    english = _book(xlsx_bytes("s", ["a"], [[True], [False]]))["s"]
    assert [r[0].value for r in english.iter_rows(min_row=2)] == ["yes", "no"]
    chinese = _book(xlsx_bytes("s", ["a"], [[True]], language="zh"))["s"]
    assert chinese["A2"].value == "是"


def test_column_widths_count_chinese_double_and_stop_at_sixty() -> None:
    assert display_width("幼儿园") == 6 and display_width("ab") == 2
    assert display_width("ＡＢ") == 4  # full-width
    assert display_width("短\n很长很长的一行") == 14  # the longest line
    rows = [["x", "幼儿园名称幼儿园名称", "a" * 200, date(2025, 1, 1)]]
    ws = _book(xlsx_bytes("s", ["a", "b", "c", "d"], rows))["s"]
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    assert widths["B"] >= 20 > widths["A"]
    assert widths["C"] == exporting.MAX_WIDTH
    assert 10 <= widths["D"] < 20


def test_rows_past_the_width_sample_stream_on_in_order() -> None:
    count = exporting.WIDTH_SAMPLE * 2 + 7
    book = XlsxWriter()
    sheet = book.sheet("many", ["n", "amount"])
    for n in range(count):
        sheet.append([n, Decimal(n) / 100])
    ws = _book(book.to_bytes())["many"]
    values = [(r[0].value, r[1].value) for r in ws.iter_rows(min_row=2)]
    assert [v[0] for v in values] == list(range(count))
    assert ws.cell(count + 1, 2).number_format == "0.00"
    assert Decimal(str(values[-1][1])) == Decimal(count - 1) / 100
    assert ws.auto_filter.ref == f"A1:B{count + 1}"


def test_several_sheets_into_one_workbook_on_a_stream_that_cannot_seek() -> None:
    class Pipe(io.RawIOBase):  # like sys.stdout.buffer on a pipe
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def write(self, b: Any) -> int:
            self.data += bytes(b)
            return len(b)

    book = XlsxWriter()
    first = book.sheet("one", ["a"])
    second = book.sheet("two", ["b"])
    first.append(["1"])
    second.append(["2"])  # side by side
    book.write_sheet("three", ["c"], [["3"]])
    pipe = Pipe()
    book.save(pipe)
    read = _book(bytes(pipe.data))
    assert read.sheetnames == ["one", "two", "three"]
    assert [read[s]["A2"].value for s in read.sheetnames] == ["1", "2", "3"]
    with pytest.raises(ValueError):
        book.save(io.BytesIO())


def test_the_import_template_of_one_type_has_its_drop_downs() -> None:
    kindergartens = RECORD_TYPES["kindergartens"]
    book = _book(template_xlsx(kindergartens))
    assert book.sheetnames == ["幼儿园"]
    ws = book["幼儿园"]
    assert [c.value for c in ws[1]] == header_row(kindergartens, "zh")
    assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    assert ws.max_row == 1
    validations = _validations(ws)
    letters = {f.zh: chr(65 + i) for i, f in enumerate(kindergartens.fields)}
    assert set(validations) == {
        letters[n] for n in ("办园性质", "园所等级", "是否寄宿", "是否普惠")
    }
    assert _options(book, validations[letters["办园性质"]]) == [
        "公办",
        "普惠性民办",
        "非营利性民办",
        "营利性民办",
    ]
    assert _options(book, validations[letters["是否寄宿"]]) == ["是", "否"]


def test_the_workbook_template_has_a_sheet_per_type_and_every_list() -> None:
    book = _book(workbook_template_xlsx())
    assert book.sheetnames == [rt.sheet for rt in RECORD_TYPES.values()]
    assert book.sheetnames == [
        "幼儿园",
        "幼儿",
        "收费标准",
        "收费记录",
        "财政经费",
        "退费",
        "缺勤记录",
        "检查记录",
    ]
    for rt in RECORD_TYPES.values():
        ws = book[rt.sheet]
        assert [c.value for c in ws[1]] == header_row(rt, "zh")
        validations = _validations(ws)
        expected = {}
        for i, f in enumerate(rt.fields):
            if f.name in ENUM_FIELDS:
                expected[chr(65 + i)] = [m.label_zh for m in ENUM_FIELDS[f.name]]
            elif kind_of(f) == "bool":
                expected[chr(65 + i)] = ["是", "否"]
        assert {k: _options(book, v) for k, v in validations.items()} == expected, rt.name
    charges = book["收费记录"]
    assert "J" in _validations(charges)  # 收费主体
    assert _options(book, _validations(book["收费标准"])["D"]) == ["月", "学期", "天"]
    assert drop_downs(RECORD_TYPES["refunds"]) == {}


def test_long_lists_go_to_a_hidden_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporting, "INLINE_LIST_LIMIT", 10)
    book = _book(template_xlsx(RECORD_TYPES["funding"]))
    assert book.sheetnames == ["财政经费", "_lists"]
    assert book["_lists"].sheet_state == "hidden"
    (formula,) = _validations(book["财政经费"]).values()
    assert formula.startswith("'_lists'!")
    assert _options(book, formula) == [m.label_zh for m in ENUM_FIELDS["source"]]


def _as_text(value: Any, number_format: str) -> str:
    """A workbook cell as the CSV export writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if number_format == "0.00":
        return f"{Decimal(str(value)):.2f}"
    return str(value)


def test_an_export_workbook_says_what_the_chinese_csv_says(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    build_demo(session, taxonomy)
    session.commit()
    out = io.BytesIO()
    written = export_workbook(session, list(RECORD_TYPES.values()), out)
    book = _book(out.getvalue())
    assert book.sheetnames == [rt.sheet for rt in RECORD_TYPES.values()]
    for name, rt in RECORD_TYPES.items():
        ws = book[rt.sheet]
        width = len(rt.fields)
        assert [c.value for c in ws[1]] == header_row(rt, "zh")
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        rows = list(ws.iter_rows(min_row=2, max_col=width))
        assert len(rows) == written[name] > 0, name
        cells = [[_as_text(c.value, c.number_format) for c in row] for row in rows]
        assert cells == list(export_rows(session, rt, "zh")), name
        for i, f in enumerate(rt.fields):  # typed as the workbook import reads them
            kind = kind_of(f)
            for cell in (row[i] for row in rows if row[i].value is not None):
                if kind == "date":
                    assert cell.is_date and cell.number_format == "yyyy-mm-dd", f.name
                elif kind == "amount":
                    assert cell.data_type == "n" and cell.number_format == "0.00", f.name
                elif kind == "count":
                    assert isinstance(cell.value, int), f.name
                else:
                    assert cell.data_type == "s", f.name


def test_an_export_keeps_to_its_region(session: Session) -> None:
    haidian = make_kindergarten(session, code="K-HD", region_code="110108", accounts=["1", "2"])
    make_charge(session, make_child(session, haidian), amount=Decimal("800.50"))
    xuhui = make_kindergarten(session, code="K-XH", region_code="310104", grade="model")
    make_charge(session, make_child(session, xuhui))
    out = io.BytesIO()
    types = [RECORD_TYPES["kindergartens"], RECORD_TYPES["charges"]]
    assert export_workbook(session, types, out, region_code="110108") == {
        "kindergartens": 1,
        "charges": 1,
    }
    book = _book(out.getvalue())
    kindergartens = [[c.value for c in r] for r in book["幼儿园"].iter_rows(min_row=2)]
    assert [r[0] for r in kindergartens] == ["K-HD"]
    header = header_row(RECORD_TYPES["kindergartens"], "zh")
    row = dict(zip(header, kindergartens[0], strict=False))
    assert (row["办园性质"], row["备案收费账户"], row["是否寄宿"], row["是否普惠"]) == (
        "公办",
        "1;2",
        "否",
        "是",
    )
    charge = book["收费记录"]["E2"]
    assert (charge.value, charge.number_format) == (800.5, "0.00")
    everywhere = io.BytesIO()
    export_workbook(session, types, everywhere)
    codes = [r[0].value for r in _book(everywhere.getvalue())["幼儿园"].iter_rows(min_row=2)]
    assert codes == ["K-HD", "K-XH"]


def test_a_text_longer_than_a_cell_is_cut_with_an_ellipsis() -> None:
    long = "证" * (exporting.CELL_LIMIT + 10)
    ws = _book(xlsx_bytes("s", ["evidence"], [[long], ["短"]]))["s"]
    value = ws["A2"].value
    assert len(value) == exporting.CELL_LIMIT and value.endswith("…") and value[0] == "证"
    assert ws["A3"].value == "短"
