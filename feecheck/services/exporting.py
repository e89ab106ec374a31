"""Records to CSV with the columns of spec §2, so that an export imports back unchanged.

Every CSV feecheck writes goes through write_csv, which escapes cells against formula injection.

Used for the import templates (Chinese headers, UTF-8 with BOM so Excel opens them right), the
round-trip tests, and the error reports of the web import page (formula-escaped cells).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any, Literal, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.domain.regions import scope_prefix
from feecheck.models import FiledAccount, Kindergarten
from feecheck.services.record_rows import cells_select, stored_fields
from feecheck.services.record_types import ENUM_FIELDS, RecordType

Language = Literal["en", "zh"]
ENUMS = ENUM_FIELDS
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def header_row(record_type: RecordType, language: Language = "en") -> list[str]:
    return [f.zh if language == "zh" else f.name for f in record_type.fields]


def escape_formula(cell: str) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def format_cell(name: str, value: Any, language: Language = "en") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return ("是" if value else "否") if language == "zh" else ("yes" if value else "no")
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    if name in ENUMS and language == "zh":
        return ENUMS[name](value).label_zh
    return str(value)


def export_rows(
    session: Session,
    record_type: RecordType,
    language: Language = "en",
    region_code: str | None = None,
) -> Iterator[list[str]]:
    """The records of one type as CSV cells, in a stable order, streamed from the database."""
    model: Any = record_type.model
    names = stored_fields(record_type)
    statement = cells_select(record_type, Kindergarten.id)
    if region_code is not None:
        statement = statement.where(Kindergarten.region_code.startswith(scope_prefix(region_code)))
    statement = statement.order_by(Kindergarten.code, model.id)
    accounts = _filed_accounts(session) if model is Kindergarten else {}
    for row in session.execute(statement.execution_options(yield_per=2000)):
        cells = dict(zip(names, row, strict=False))
        if model is Kindergarten:
            cells["filed_accounts"] = ";".join(accounts.get(row[-1], []))
            cells["inclusive"] = cells["category"] in ("public", "inclusive_private")
        yield [format_cell(f.name, cells.get(f.name), language) for f in record_type.fields]


def _filed_accounts(session: Session) -> dict[int, list[str]]:
    accounts: dict[int, list[str]] = {}
    for kg_id, account in session.execute(
        select(FiledAccount.kindergarten_id, FiledAccount.account_no).order_by(FiledAccount.id)
    ):
        accounts.setdefault(kg_id, []).append(account)
    return accounts


def write_csv(
    stream: TextIO,
    header: list[str],
    rows: Iterable[list[str]],
    bom: bool = False,
    escape: bool = True,
) -> int:
    """Write a header and rows; returns the number of rows. CRLF line ends, as Excel writes.

    Every cell is escaped against formula injection (a leading ' before = + - @ tab CR), which
    feecheck's importer takes off again, so an export imports back unchanged.
    """
    if bom:
        stream.write(codecs.BOM_UTF8.decode("utf-8"))
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow([escape_formula(c) for c in row] if escape else row)
        n += 1
    return n


def xlsx_bytes(sheet: str, header: list[str], rows: Iterable[list[Any]]) -> bytes:
    """One sheet (openpyxl, write-only: rows stream through): the header in bold and frozen,
    text cells escaped against formula injection, Decimal amounts as numbers with two
    decimals."""
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    heading = []
    for name in header:
        cell = WriteOnlyCell(ws, value=escape_formula(name))
        cell.font = bold
        heading.append(cell)
    ws.append(heading)
    for values in rows:
        cells = []
        for value in values:
            if isinstance(value, Decimal):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = "0.00"
            elif isinstance(value, str):
                cell = WriteOnlyCell(ws, value=escape_formula(value))
                cell.data_type = "s"  # text, never a formula
            else:
                cell = WriteOnlyCell(ws, value=value)
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_csv(
    session: Session,
    record_type: RecordType,
    stream: TextIO,
    language: Language = "en",
    bom: bool = False,
    region_code: str | None = None,
) -> int:
    """Every record of one type (inside region_code, if given) as a CSV file."""
    return write_csv(
        stream,
        header_row(record_type, language),
        export_rows(session, record_type, language, region_code),
        bom=bom,
    )


def template_csv(record_type: RecordType) -> bytes:
    """An empty import template: the Chinese headers, UTF-8 with BOM (Excel opens it right)."""
    buffer = io.StringIO()
    write_csv(buffer, header_row(record_type, "zh"), [], bom=True)
    return buffer.getvalue().encode("utf-8")


def error_report_csv(file_name: str, problems: Iterable[dict[str, Any]]) -> bytes:
    """The rejected rows of an import: line, column, reason (Chinese, English); BOM; escaped."""
    buffer = io.StringIO()
    write_csv(
        buffer,
        ["文件 file", "行号 line", "列 column", "原因 reason", "reason (English)"],
        (
            [file_name, str(p["line"]), p["column"], p.get("reason_zh") or "", p["reason"]]
            for p in problems
        ),
        bom=True,
        escape=True,
    )
    return buffer.getvalue().encode("utf-8")
