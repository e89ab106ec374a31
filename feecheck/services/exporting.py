"""Records to CSV and .xlsx with the columns of spec §2, so that an export imports back unchanged.

Every CSV feecheck writes goes through write_csv, which escapes cells against formula injection.
Every workbook goes through XlsxWriter (openpyxl, write-only: rows stream to temporary files, so
memory stays bounded): typed cells (dates, amounts with two decimals, whole numbers), text that
is never a formula (a text cell, not a leading apostrophe, so the text reads back exactly), a
bold frozen header, an autofilter and column widths that fit Chinese text.

Used for the import templates (Chinese headers; CSV in UTF-8 with BOM so Excel opens it right,
workbooks with drop-down lists), `feecheck export`, the records pages' downloads, the round-trip
tests, and the error reports of the web import page (formula-escaped cells).
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.domain.money import money
from feecheck.domain.regions import scope_prefix
from feecheck.models import FiledAccount, Kindergarten
from feecheck.services.record_rows import cells_select, stored_fields
from feecheck.services.record_types import ENUM_FIELDS, RECORD_TYPES, RecordType, kind_of

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
    for cells in _records(session, record_type, region_code):
        yield [format_cell(f.name, cells.get(f.name), language) for f in record_type.fields]


def export_values(
    session: Session, record_type: RecordType, region_code: str | None = None
) -> Iterator[list[Any]]:
    """The records of one type as workbook cells, in export_rows' order: dates as dates, amounts
    as Decimal, counts as int, enums by their Chinese names, yes/no as 是/否, filed accounts
    joined with ;. What the workbook import reads back unchanged."""
    for cells in _records(session, record_type, region_code):
        yield [workbook_value(f.name, cells.get(f.name)) for f in record_type.fields]


def workbook_value(name: str, value: Any) -> Any:
    """A stored value as a workbook cell holds it (the Chinese labels of export_rows' "zh")."""
    if value is None or (isinstance(value, (date, int)) and not isinstance(value, bool)):
        return value
    if isinstance(value, Decimal):
        return money(value)
    return format_cell(name, value, "zh")


def _records(
    session: Session, record_type: RecordType, region_code: str | None
) -> Iterator[dict[str, Any]]:
    """Each record of one type (inside region_code, if given) as field name -> stored value,
    ordered by kindergarten code, then id; streamed from the database."""
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
        yield cells


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


# --- workbooks -------------------------------------------------------------------------------

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
AMOUNT_FORMAT = "0.00"
MIN_WIDTH = 8  # characters (a Chinese character counts 2)
MAX_WIDTH = 60
CELL_LIMIT = 32_767  # characters in one Excel cell
WIDTH_SAMPLE = 1000  # rows measured for the column widths before a sheet streams on
VALIDATION_ROWS = 5000  # the last row a template's drop-down lists cover
INLINE_LIST_LIMIT = 255  # Excel's longest list written into a validation's formula
LISTS_SHEET = "_lists"  # the hidden sheet holding longer lists (the import skips it)
YES_NO_ZH = ("是", "否")
LIST_HINT = "请从下拉列表中选择 / choose a value from the list"
BinaryTarget = IO[bytes] | str | Path


def display_width(text: str) -> int:
    """How wide a text shows in a spreadsheet, in characters: a Chinese (wide or full-width)
    character counts 2; the longest line of a text that has several."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            for line in text.splitlines()
        ),
        default=0,
    )


def _shown(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return "0000-00-00 00:00:00"
    if isinstance(value, date):
        return "0000-00-00"
    return str(value)


class XlsxSheet:
    """One sheet of an XlsxWriter: the header, then rows appended one by one.

    The first WIDTH_SAMPLE rows are held back to measure the column widths (a streamed sheet
    writes them before its first row); after that, rows go straight to openpyxl's temporary file.
    """

    def __init__(
        self,
        book: XlsxWriter,
        title: str,
        header: Sequence[str],
        drop_downs: Mapping[int, Sequence[str]] | None = None,
    ) -> None:
        self.book = book
        self.title = title[:31]
        self.header = list(header)
        self.rows = 0
        self._ws: Any = book.workbook.create_sheet(self.title)
        self._held: list[Sequence[Any]] | None = []
        self._drop_downs = dict(drop_downs or {})
        self.closed = False

    def append(self, values: Sequence[Any]) -> None:
        """Add a row of values (None, str, bool, int, Decimal, date, datetime)."""
        if self.closed:
            raise ValueError(f"sheet {self.title!r} is closed")
        self.rows += 1
        if self._held is None:
            self._ws.append(self._cells(values))
            return
        self._held.append(list(values))  # the caller may reuse its list
        if len(self._held) >= WIDTH_SAMPLE:
            self._start()

    def extend(self, rows: Iterable[Sequence[Any]]) -> int:
        """Add every row; returns how many."""
        before = self.rows
        for values in rows:
            self.append(values)
        return self.rows - before

    def close(self) -> int:
        """Finish the sheet (its autofilter and drop-down lists); returns the rows written."""
        if not self.closed:
            if self._held is not None:
                self._start()
            ws = self._ws
            columns = max(len(self.header), 1)
            ws.auto_filter.ref = f"A1:{get_column_letter(columns)}{self.rows + 1}"
            last = max(VALIDATION_ROWS, self.rows + 1)
            for column, options in self._drop_downs.items():
                letter = get_column_letter(column + 1)
                validation = DataValidation(
                    type="list",
                    formula1=self.book.list_formula(options),
                    allow_blank=True,
                    showErrorMessage=True,
                    errorStyle="warning",  # a code the import also reads (public) stays possible
                    error=LIST_HINT,
                )
                validation.add(f"{letter}2:{letter}{last}")
                ws.data_validations.append(validation)
            self.closed = True
        return self.rows

    def _start(self) -> None:
        """Size the columns from the header and the rows held, then write them."""
        held, self._held = self._held or [], None
        ws = self._ws
        ws.freeze_panes = "A2"
        widths = [display_width(str(h)) + 2 for h in self.header]  # + 2: bold, the filter button
        for values in held:
            for i, value in enumerate(values):
                if value is None:
                    continue
                if i >= len(widths):
                    widths.extend([0] * (i + 1 - len(widths)))
                widths[i] = max(widths[i], display_width(_shown(value)))
        for column, options in self._drop_downs.items():
            if column < len(widths):
                widths[column] = max([widths[column], *(display_width(o) + 3 for o in options)])
        for i, width in enumerate(widths):
            ws.column_dimensions[get_column_letter(i + 1)].width = min(
                MAX_WIDTH, max(MIN_WIDTH, width + 2)
            )
        bold = Font(bold=True)
        heading = []
        for name in self.header:
            cell = self._text(str(name))
            cell.font = bold
            heading.append(cell)
        ws.append(heading)
        for values in held:
            ws.append(self._cells(values))

    def _text(self, value: str) -> Cell:
        """A text cell: never a formula (nor an error value like #N/A), the text unchanged; a
        text that looks like a formula is marked as text (quotePrefix, no apostrophe added). A
        text longer than a cell holds (CELL_LIMIT) is cut, with … at its end: Excel would
        otherwise refuse to open the workbook as it is."""
        if len(value) > CELL_LIMIT:
            value = value[: CELL_LIMIT - 1] + "…"
        cell = WriteOnlyCell(self._ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
        cell.data_type = "s"
        if value.startswith(FORMULA_PREFIXES):
            cell.quotePrefix = True
        return cell

    def _cells(self, values: Sequence[Any]) -> list[Any]:
        cells: list[Any] = []
        for value in values:
            if value is None or value == "":
                cells.append(None)
            elif isinstance(value, str):
                cells.append(self._text(value))
            elif isinstance(value, bool):
                yes, no = YES_NO_ZH if self.book.language == "zh" else ("yes", "no")
                cells.append(self._text(yes if value else no))
            elif isinstance(value, Decimal):
                cell = WriteOnlyCell(self._ws, value=value)
                cell.number_format = AMOUNT_FORMAT
                cells.append(cell)
            elif isinstance(value, date):
                cell = WriteOnlyCell(self._ws, value=value)
                cell.number_format = DATETIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
                cells.append(cell)
            elif isinstance(value, (int, float)):
                cells.append(value)
            else:
                cells.append(self._text(str(value)))
        return cells


class XlsxWriter:
    """A workbook of one or more sheets, written with openpyxl's write-only mode.

        book = XlsxWriter()
        book.write_sheet("幼儿园", header, rows)
        sheet = book.sheet("findings", CSV_COLUMNS)   # or row by row
        sheet.append([...])
        book.save(sys.stdout.buffer)                  # or book.to_bytes()

    Sheets may be written one after the other or side by side; save() closes them. `language`
    says how a bool reads (是/否 or yes/no), as in the CSV files.
    """

    def __init__(self, language: Language = "en") -> None:
        self.language = language
        self.workbook = Workbook(write_only=True)
        self.sheets: list[XlsxSheet] = []
        self._lists: dict[tuple[str, ...], int] = {}  # options -> column of the _lists sheet
        self._saved = False

    def sheet(
        self,
        title: str,
        header: Sequence[str],
        drop_downs: Mapping[int, Sequence[str]] | None = None,
    ) -> XlsxSheet:
        """A new sheet (a title of at most 31 characters); `drop_downs` maps a column (0-based)
        to the options of its drop-down list."""
        sheet = XlsxSheet(self, title, header, drop_downs)
        self.sheets.append(sheet)
        return sheet

    def write_sheet(
        self,
        title: str,
        header: Sequence[str],
        rows: Iterable[Sequence[Any]],
        drop_downs: Mapping[int, Sequence[str]] | None = None,
    ) -> int:
        """A whole sheet from an iterable of rows (consumed as it streams); returns its rows."""
        sheet = self.sheet(title, header, drop_downs)
        sheet.extend(rows)
        return sheet.close()

    def list_formula(self, options: Sequence[str]) -> str:
        """A list validation's formula: the options themselves when short, else a reference to
        a column of the hidden _lists sheet (written by save)."""
        inline = '"' + ",".join(options) + '"'
        if len(inline) <= INLINE_LIST_LIMIT and not any("," in o or '"' in o for o in options):
            return inline
        key = tuple(options)
        column = self._lists.setdefault(key, len(self._lists) + 1)
        letter = get_column_letter(column)
        return f"{quote_sheetname(LISTS_SHEET)}!${letter}$1:${letter}${max(len(key), 1)}"

    def save(self, target: BinaryTarget) -> None:
        """Write the workbook to a path or a binary stream (a file, sys.stdout.buffer: it need
        not be seekable). Once only."""
        if self._saved:
            raise ValueError("the workbook was saved already")
        for sheet in self.sheets:
            sheet.close()
        if not self.sheets:
            self.sheet("Sheet1", []).close()
        if self._lists:
            lists: Any = self.workbook.create_sheet(LISTS_SHEET)
            lists.sheet_state = "hidden"
            columns = list(self._lists)
            for i in range(max(len(c) for c in columns)):
                lists.append([c[i] if i < len(c) else None for c in columns])
        self._saved = True
        self.workbook.save(target)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.save(out)
        return out.getvalue()


def xlsx_bytes(
    sheet: str, header: list[str], rows: Iterable[Sequence[Any]], language: Language = "en"
) -> bytes:
    """A workbook of one sheet (see XlsxWriter): typed cells, bold frozen header, widths,
    autofilter; text never a formula."""
    book = XlsxWriter(language)
    book.write_sheet(sheet, header, rows)
    return book.to_bytes()


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


def export_workbook(
    session: Session,
    record_types: Sequence[RecordType],
    target: BinaryTarget,
    region_code: str | None = None,
) -> dict[str, int]:
    """Every record of the given types (inside region_code, if given) as one workbook: a sheet
    per type, named record_type.sheet, with the Chinese headers and export_values' typed cells,
    which the workbook import reads back unchanged. Returns the rows written per type."""
    book = XlsxWriter("zh")
    written = {
        rt.name: book.write_sheet(
            rt.sheet, header_row(rt, "zh"), export_values(session, rt, region_code)
        )
        for rt in record_types
    }
    book.save(target)
    return written


def template_csv(record_type: RecordType) -> bytes:
    """An empty import template: the Chinese headers, UTF-8 with BOM (Excel opens it right)."""
    buffer = io.StringIO()
    write_csv(buffer, header_row(record_type, "zh"), [], bom=True)
    return buffer.getvalue().encode("utf-8")


def drop_downs(record_type: RecordType) -> dict[int, list[str]]:
    """The drop-down lists of a type's sheet: column (0-based) -> the Chinese options, for the
    enumerated columns (办园性质, 计费单位…) and the yes/no ones (是/否)."""
    lists: dict[int, list[str]] = {}
    for column, f in enumerate(record_type.fields):
        if f.name in ENUM_FIELDS:
            lists[column] = [m.label_zh for m in ENUM_FIELDS[f.name]]
        elif kind_of(f) == "bool":
            lists[column] = list(YES_NO_ZH)
    return lists


def template_xlsx(record_type: RecordType) -> bytes:
    """An empty import template as a workbook: one sheet named record_type.sheet, the Chinese
    headers, drop-down lists on the enumerated and yes/no columns (rows 2..VALIDATION_ROWS)."""
    return _template([record_type])


def workbook_template_xlsx() -> bytes:
    """The template of a whole workbook: a sheet per record type, in RECORD_TYPES order (the
    order `import workbook` reads them in), each as template_xlsx makes it."""
    return _template(list(RECORD_TYPES.values()))


def _template(record_types: Sequence[RecordType]) -> bytes:
    book = XlsxWriter("zh")
    for rt in record_types:
        book.write_sheet(rt.sheet, header_row(rt, "zh"), [], drop_downs(rt))
    return book.to_bytes()


def error_report_csv(file_name: str, problems: Iterable[dict[str, Any]]) -> bytes:
    """The rejected rows of an import: line (or a workbook's cell), column, reason (Chinese,
    English); BOM; escaped."""
    buffer = io.StringIO()
    write_csv(
        buffer,
        ["文件 file", "行号 line", "列 column", "原因 reason", "reason (English)"],
        (
            [
                file_name,
                p.get("where") or str(p["line"]),  # a workbook's cell (收费记录!E4), else the line
                p["column"],
                p.get("reason_zh") or "",
                p["reason"],
            ]
            for p in problems
        ),
        bom=True,
        escape=True,
    )
    return buffer.getvalue().encode("utf-8")
