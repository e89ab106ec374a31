"""Reading .xlsx workbooks as they are sent: sheets, typed cells, streamed row by row.

The import (services/importing.py) reads a sheet as it reads a CSV file: rows of cells, a line
number per row (the Excel row), the same header search and the same parse_cells. What is
particular to a workbook is here:

- the file: a zip that must hold a workbook; members that would expand past MAX_UNCOMPRESSED or
  by more than MAX_RATIO (a zip bomb) are refused before anything is read;
- the sheets: names, hidden or not (workbook.xml and its relationships);
- the cells, typed: shared and inline strings, numbers (kept as their exact decimal text, so
  1234.5 is Decimal('1234.5') and never a float), dates (a number with a date format, including
  the Chinese built-in formats 27-36 and 50-58 that Excel does not write out), booleans, Excel
  errors (#N/A) and formulas without a calculated value, both of which are a row's error.

The sheet XML is read with the standard library's expat parser, 64 KiB at a time: memory stays
flat however many rows a sheet has (openpyxl's read-only mode keeps every parsed row element,
python-calamine loads the whole sheet and reads an error cell as empty; bench/import_xlsx.py
measures all three).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import IO, Any
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from feecheck.domain.reasons import Refused

ZIP_MAGIC = b"PK\x03\x04"
MAX_UNCOMPRESSED = 4 << 30  # bytes a workbook may expand to, every member together
MAX_RATIO = 200  # how much one member may expand (its size / its compressed size) ...
RATIO_FROM = 16 << 20  # ... once it is larger than this (small parts compress very well)
MAX_MEMBERS = 10_000
BLOCK = 1 << 16
MAX_COLUMNS = 16_384  # Excel's last column, XFD

# Built-in number formats that are dates in a Chinese (or other East Asian) Excel: the file
# names only the id, and the id means 年/月/日 formats there (ECMA-376 18.8.30).
_EAST_ASIAN_DATES = frozenset((*range(27, 37), *range(50, 59)))
_DATE_IDS = (
    frozenset(i for i, code in BUILTIN_FORMATS.items() if is_date_format(code)) | _EAST_ASIAN_DATES
)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_STRICT_MAIN = "http://purl.oclc.org/ooxml/spreadsheetml/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STRICT_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships"
_SEP = "}"


class WorkbookRefused(Refused):
    """The file is not a workbook that can be read; nothing is written."""


class CellError(str):
    """A cell holding an Excel error (#N/A, #DIV/0!, #REF!…): a value nobody can import."""


class _Uncalculated:
    """A formula whose result was never calculated (a file written by a program, never
    opened in Excel or WPS): its value is unknown."""

    def __repr__(self) -> str:
        return "UNCALCULATED"


UNCALCULATED: Any = _Uncalculated()


class _Damaged:
    """A cell the file describes wrongly (a shared string that is not there, a number that is
    not one): the row's error, never a guess."""

    def __repr__(self) -> str:
        return "DAMAGED"


DAMAGED: Any = _Damaged()

Cell = None | str | Decimal | bool | datetime | date | time | timedelta | CellError | _Uncalculated


@dataclass(frozen=True)
class Sheet:
    name: str
    state: str  # visible, hidden or veryHidden
    member: str  # the part of the zip holding its cells

    @property
    def hidden(self) -> bool:
        return self.state != "visible"


def is_workbook(path: Path) -> bool:
    """Whether the file is a zip (an .xlsx), by its first bytes, whatever its name."""
    with Path(path).open("rb") as f:
        return f.read(4) == ZIP_MAGIC


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def office_file_refusal(head: bytes) -> WorkbookRefused | None:
    """Why a Microsoft compound file (not a zip) cannot be imported: a password-protected
    workbook (Excel wraps an encrypted .xlsx in one) or an Excel 97-2003 .xls; None otherwise."""
    if not head.startswith(OLE_MAGIC):
        return None
    if "EncryptedPackage".encode("utf-16-le") in head:
        return WorkbookRefused(
            "the workbook is protected by a password (encrypted): open it in Excel, remove the "
            "password (File > Info > Protect Workbook), save it and import it again",
            "工作簿设置了打开密码（已加密）：请在 Excel 中打开，取消密码（文件→信息→保护工作簿）"
            "后保存，再重新导入",
        )
    return WorkbookRefused(
        "this is an old Excel 97-2003 workbook (.xls): save it as an Excel workbook (.xlsx) and "
        "import that",
        "这是旧版 Excel 97-2003 工作簿（.xls）：请另存为 Excel 工作簿（.xlsx）后再导入",
    )


def _local(name: str) -> str:
    return name.rsplit(_SEP, 1)[-1]


def _parse(source: IO[bytes], start: Any = None, end: Any = None, text: Any = None) -> None:
    parser = expat.ParserCreate(namespace_separator=_SEP)
    parser.buffer_text = True
    parser.buffer_size = BLOCK
    if start is not None:
        parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    parser.ParseFile(source)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_REF = re.compile(r"([A-Z]{1,3})(\d*)")


def _column_index(ref: str) -> int:
    match = _REF.match(ref)
    if not match:
        return -1
    index = 0
    for ch in match[1]:
        index = index * 26 + ord(ch) - 64
    return index - 1


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def unescape(text: str) -> str:
    """Excel's escapes of characters XML cannot hold: _x000D_ is a carriage return, _x005F_
    escapes an underscore (ECMA-376 22.9.2.19)."""
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)


class Workbook:
    """An opened .xlsx: its sheets and their rows. Use as a context manager (closes the zip)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise WorkbookRefused(
                f"the Excel workbook is damaged (cut short, or not copied whole): {exc}",
                f"Excel 工作簿已损坏（文件不完整或未完整复制）：{exc}",
            ) from exc
        try:
            self._check_sizes()
            self._members = {info.filename for info in self._zip.infolist()}
            self.sheets, self._epoch = self._read_workbook()
            self._dates, self._padded = self._read_styles()
            self._strings: list[str] | None = None
            self._merges: dict[str, list[tuple[int, int, int, int]]] = {}
        except Refused:
            self._zip.close()
            raise
        except (zipfile.BadZipFile, expat.ExpatError, KeyError, OSError, ValueError) as exc:
            self._zip.close()
            raise WorkbookRefused(
                f"the workbook is damaged and cannot be read: {exc}",
                f"工作簿已损坏，无法读取：{exc}",
            ) from exc

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    # --- the parts ---------------------------------------------------------------------------

    def _check_sizes(self) -> None:
        """Refuse a zip bomb from the sizes its directory declares (zipfile never inflates a
        member past its declared size: a lie ends the reading with a bad CRC)."""
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise WorkbookRefused(
                f"the file holds {len(infos):,} parts: not a workbook",
                f"文件包含 {len(infos):,} 个部件：不是工作簿",
            )
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise WorkbookRefused(
                    "the workbook is encrypted: remove its password in Excel and save it again",
                    "工作簿已加密：请在 Excel 中取消密码后重新保存",
                )
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FROM and ratio > MAX_RATIO:
                raise WorkbookRefused(
                    f"{info.filename} would expand {ratio:,.0f} times (to {info.file_size:,} "
                    f"bytes): refused as a zip bomb",
                    f"{info.filename} 解压后将膨胀 {ratio:,.0f} 倍（{info.file_size:,} 字节），"
                    "疑为压缩炸弹，已拒绝",
                )
        if total > MAX_UNCOMPRESSED:
            raise WorkbookRefused(
                f"the workbook would expand to {total:,} bytes (at most {MAX_UNCOMPRESSED:,}): "
                "split it into smaller files",
                f"工作簿解压后为 {total:,} 字节（上限 {MAX_UNCOMPRESSED:,}）：请拆分为较小的文件",
            )

    def _open(self, member: str) -> IO[bytes]:
        return self._zip.open(member)

    def _rels(self, part: str) -> dict[str, str]:
        """Relationship id -> the target part's path, for a part (xl/workbook.xml)."""
        folder = PurePosixPath(part).parent
        rels = str(folder / "_rels" / (PurePosixPath(part).name + ".rels"))
        if rels not in self._members:
            return {}
        targets: dict[str, str] = {}

        def start(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "Relationship" and "Id" in attrs and "Target" in attrs:
                target = attrs["Target"]
                path = target.lstrip("/") if target.startswith("/") else str(folder / target)
                targets[attrs["Id"]] = _normpath(path)

        with self._open(rels) as f:
            _parse(f, start)
        return targets

    def _workbook_part(self) -> str:
        found: list[str] = []

        def start(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "Relationship" and attrs.get("Type", "").endswith("/officeDocument"):
                found.append(attrs.get("Target", "").lstrip("/"))

        if "_rels/.rels" in self._members:
            with self._open("_rels/.rels") as f:
                _parse(f, start)
        part = found[0] if found else "xl/workbook.xml"
        if part not in self._members:
            raise WorkbookRefused(
                "the zip holds no Excel workbook (xl/workbook.xml): is it an .xlsx file?",
                "压缩包中没有 Excel 工作簿（xl/workbook.xml）：请确认是 .xlsx 文件",
            )
        return part

    def _read_workbook(self) -> tuple[list[Sheet], datetime]:
        self._part = part = self._workbook_part()
        rels = self._rels(part)
        sheets: list[Sheet] = []
        epoch = [CALENDAR_WINDOWS_1900]

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "sheet":
                rid = attrs.get(f"{_REL}{_SEP}id") or attrs.get(f"{_STRICT_REL}{_SEP}id", "")
                member = rels.get(rid)
                name = attrs.get("name", "")
                if member is None or member not in self._members:
                    raise WorkbookRefused(
                        f"the workbook is damaged: the cells of sheet {name!r} are missing",
                        f"工作簿已损坏：工作表“{name}”的数据缺失",
                    )
                sheets.append(Sheet(name, attrs.get("state", "visible"), member))
            elif local == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                epoch[0] = CALENDAR_MAC_1904

        with self._open(part) as f:
            _parse(f, start)
        self._styles_part = next(
            (t for t in rels.values() if t.endswith("styles.xml") and t in self._members), None
        )
        self._strings_part = next(
            (t for t in rels.values() if t.endswith("haredStrings.xml") and t in self._members),
            None,
        )
        return sheets, epoch[0]

    def _read_styles(self) -> tuple[frozenset[int], dict[int, int]]:
        """The cell styles (indexes into cellXfs) that show a number as a date or a time, and
        those that show a whole number with leading zeros (000012: the format 000000), with
        their width."""
        if self._styles_part is None:
            return frozenset(), {}
        custom: dict[int, str] = {}
        formats: list[int] = []
        in_xfs = [False]

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "numFmt":
                custom[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
            elif local == "cellXfs":
                in_xfs[0] = True
            elif local == "xf" and in_xfs[0]:
                formats.append(int(attrs.get("numFmtId", "0")))

        def end(name: str) -> None:
            if _local(name) == "cellXfs":
                in_xfs[0] = False

        with self._open(self._styles_part) as f:
            _parse(f, start, end)

        def is_date(format_id: int) -> bool:
            if format_id in custom:
                return is_date_format(custom[format_id])
            return format_id in _DATE_IDS

        dates = frozenset(i for i, format_id in enumerate(formats) if is_date(format_id))
        padded = {
            i: len(code)
            for i, format_id in enumerate(formats)
            if (code := custom.get(format_id, "")) and set(code) == {"0"} and len(code) > 1
        }
        return dates, padded

    def _shared_strings(self) -> list[str]:
        if self._strings is not None:
            return self._strings
        strings: list[str] = []
        if self._strings_part is not None:
            parts: list[str] = []
            state = {"text": False, "phonetic": 0}

            def start(name: str, attrs: dict[str, str]) -> None:
                local = _local(name)
                if local == "t":
                    state["text"] = True
                elif local == "rPh":  # a phonetic guide (furigana): not the cell's text
                    state["phonetic"] += 1

            def end(name: str) -> None:
                local = _local(name)
                if local == "t":
                    state["text"] = False
                elif local == "rPh":
                    state["phonetic"] -= 1
                elif local == "si":
                    strings.append(unescape("".join(parts)))
                    parts.clear()

            def text(data: str) -> None:
                if state["text"] and not state["phonetic"]:
                    parts.append(data)

            with self._open(self._strings_part) as f:
                _parse(f, start, end, text)
        self._strings = strings
        return strings

    # --- rows --------------------------------------------------------------------------------

    def check(self, sheet: Sheet) -> None:
        """Read the sheet's XML through once before a row is imported (expat without handlers:
        about a second for 100 MB): a sheet damaged anywhere is refused before anything is
        written, not after the rows above the damage were committed. Collects the merged
        ranges on the way (they come after the rows): rows() spreads a merged cell's value
        over the cells it covers."""
        if sheet.member in self._merges:
            return
        merges: list[tuple[int, int, int, int]] = []

        def start(name: str, attrs: dict[str, str]) -> None:
            if name.rsplit(":", 1)[-1] == "mergeCell":
                first, _, last = attrs.get("ref", "").partition(":")
                a, b = _REF.match(first), _REF.match(last or first)
                if a and b and a[2] and b[2]:
                    merges.append((int(a[2]), _column_index(a[1]), int(b[2]), _column_index(b[1])))

        parser = expat.ParserCreate()
        tail = b""
        try:
            with self._open(sheet.member) as f:
                while block := f.read(BLOCK):
                    if parser.StartElementHandler is None and b"mergeCell" in tail + block:
                        parser.StartElementHandler = start  # the rows are behind: cheap now
                    tail = block[-16:]
                    parser.Parse(block, False)
                parser.Parse(b"", True)
        except (expat.ExpatError, zipfile.BadZipFile, OSError, ValueError) as exc:
            raise WorkbookRefused(
                f"sheet {sheet.name!r} is damaged (line {getattr(exc, 'lineno', '?')} of its "
                f"XML): {exc}",
                f"工作表“{sheet.name}”已损坏（其 XML 第 {getattr(exc, 'lineno', '?')} 行）：{exc}",
            ) from exc
        self._merges[sheet.member] = [m for m in merges if m[:2] != m[2:]]

    def rows(self, sheet: Sheet) -> Iterator[tuple[int, list[Cell]]]:
        """(Excel row number, the row's cells from column A) for each row the sheet writes,
        streamed; empty cells are None; a merged cell's value in every cell it covers (once
        check() has run). WorkbookRefused when the sheet's XML is damaged."""
        merges = sorted(self._merges.get(sheet.member, ()))
        rows = self._rows(sheet)
        return _spread(rows, merges) if merges else rows

    def _rows(self, sheet: Sheet) -> Iterator[tuple[int, list[Cell]]]:
        strings = self._shared_strings()
        reader = _SheetReader(strings, self._dates, self._epoch, self._padded)
        try:
            with self._open(sheet.member) as f:
                parser = reader.parser()
                while block := f.read(BLOCK):
                    parser.Parse(block, False)
                    if reader.done:
                        yield from reader.done
                        reader.done.clear()
                parser.Parse(b"", True)
                yield from reader.done
        except (expat.ExpatError, zipfile.BadZipFile, OSError, ValueError) as exc:
            raise WorkbookRefused(
                f"sheet {sheet.name!r} is damaged after row {reader.row}: {exc}",
                f"工作表“{sheet.name}”在第 {reader.row} 行之后已损坏：{exc}",
            ) from exc

    def row_count(self, sheet: Sheet) -> int:
        """The rows the sheet's <dimension> declares (0 if it declares none): for progress."""
        found = [0]

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "dimension":
                ref = attrs.get("ref", "")
                last = ref.rsplit(":", 1)[-1]
                digits = _REF.match(last)
                found[0] = int(digits[2]) if digits and digits[2] else 0
                raise _Stop
            if local == "sheetData":
                raise _Stop

        parser = expat.ParserCreate(namespace_separator=_SEP)
        parser.StartElementHandler = start
        try:
            with self._open(sheet.member) as f:
                while block := f.read(4096):
                    parser.Parse(block, False)
        except (_Stop, expat.ExpatError):
            pass
        return found[0]


class _Stop(Exception):
    pass


def _spread(
    rows: Iterator[tuple[int, list[Cell]]], merges: list[tuple[int, int, int, int]]
) -> Iterator[tuple[int, list[Cell]]]:
    """The rows with each merged range's value (its top-left cell's) in every cell it covers:
    a header 收费期间 over 起 and 止, a kindergarten's name down the rows of its children."""
    pending = list(reversed(merges))  # (first row, first column, last row, last column)
    active: list[tuple[int, int, int, int, Cell]] = []
    for line, cells in rows:
        while pending and pending[-1][0] <= line:
            r1, c1, r2, c2 = pending.pop()
            value = cells[c1] if r1 == line and c1 < len(cells) else None
            if value is not None:
                active.append((r1, c1, r2, c2, value))
        if active:
            active = [m for m in active if m[2] >= line]
            for _r1, c1, _r2, c2, value in active:
                if len(cells) <= c2:
                    cells.extend([None] * (c2 + 1 - len(cells)))
                for column in range(c1, c2 + 1):
                    if cells[column] is None:
                        cells[column] = value
        yield line, cells


def _normpath(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts)


class _SheetReader:
    """The expat handlers of one sheet: cells collected into rows, finished rows in `done`.

    The sheet is parsed without expat's namespace processing (a third of the time): element
    names are compared as written, a prefix (x:c in some generators) taken off when there is
    one.
    """

    def __init__(
        self,
        strings: list[str],
        dates: frozenset[int],
        epoch: datetime,
        padded: dict[int, int] | None = None,
    ) -> None:
        self.strings = strings
        self.dates = dates
        self.padded = padded or {}
        self.epoch = epoch
        self.done: list[tuple[int, list[Cell]]] = []
        self.row = 0
        self.cells: list[Cell] = []
        self.column = 0
        self.kind = "n"
        self.style = 0
        self.formula = False
        self.value: str | None = None
        self.collect = False
        self.inline: list[str] = []
        self.phonetic = 0
        self.text: list[str] = []
        self.columns: dict[str, int] = {}
        self.moments: dict[str, Cell] = {}

    def parser(self) -> Any:
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.buffer_size = BLOCK
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.chars
        return parser

    def start(self, name: str, attrs: dict[str, str]) -> None:
        # the elements of every cell first: this runs once per element of the sheet
        if name == "c":
            ref = attrs.get("r")
            if ref:
                column = self.columns.get(ref)
                if column is None:
                    letters = ref.rstrip("0123456789")
                    column = self.columns.get(letters)
                    if column is None:
                        column = self.columns[letters] = _column_index(letters)
                self.column = column
            else:
                self.column = len(self.cells)
            self.kind = attrs.get("t", "n")
            style = attrs.get("s")
            self.style = int(style) if style else 0
            self.formula = False
            self.value = None
            if self.inline:
                self.inline.clear()
        elif name == "v" or (name == "t" and not self.phonetic):
            self.collect = True
            self.text.clear()
        elif name == "row":
            r = attrs.get("r")
            self.row = int(r) if r else self.row + 1
            self.cells = []
        elif name == "f":
            self.formula = True
        elif name == "rPh":
            self.phonetic += 1
        elif ":" in name:  # a prefixed name (x:c): the same element
            self.start(name.rsplit(":", 1)[-1], attrs)

    def end(self, name: str) -> None:
        if name == "v":
            self.collect = False
            self.value = "".join(self.text)
        elif name == "c":
            column = self.column
            if not 0 <= column < MAX_COLUMNS:
                return
            value = self._value()
            if value is None:
                return
            cells = self.cells
            size = len(cells)
            if column == size:
                cells.append(value)
            else:
                if column > size:
                    cells.extend([None] * (column + 1 - size))
                cells[column] = value
        elif name == "t":
            if self.collect:
                self.collect = False
                self.inline.append("".join(self.text))
        elif name == "row":
            self.done.append((self.row, self.cells))
        elif name == "rPh":
            self.phonetic -= 1
        elif ":" in name:
            self.end(name.rsplit(":", 1)[-1])

    def chars(self, data: str) -> None:
        if self.collect:
            self.text.append(data)

    def _value(self) -> Cell:
        kind, raw = self.kind, self.value
        if kind == "s" and raw:
            try:
                return self.strings[int(raw)]
            except (IndexError, ValueError):
                return DAMAGED
        if kind == "inlineStr":
            return unescape("".join(self.inline)) if self.inline else None
        if raw is None or (raw == "" and kind != "str"):
            return UNCALCULATED if self.formula else None
        if kind == "n":
            if self.style in self.dates:
                return self._moment(raw)
            try:
                number = Decimal(raw)
            except InvalidOperation:
                return DAMAGED
            if not number.is_finite():
                return CellError("#NUM!")
            width = self.padded.get(self.style)
            if width and number == number.to_integral_value() and 0 <= number < 10**width:
                return f"{int(number):0{width}d}"  # 000012, as the cell shows it
            return number
        if kind == "str":
            return unescape(raw)
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "e":
            return CellError(raw)
        if kind == "d":  # an ISO 8601 date cell (Strict files, some generators)
            try:
                return datetime.fromisoformat(raw.strip().rstrip("Z"))
            except ValueError:
                return DAMAGED
        return raw  # an unknown type: its text

    def _moment(self, raw: str) -> Cell:
        """A number shown as a date or a time; dates repeat row after row: converted once."""
        moment = self.moments.get(raw)
        if moment is None:
            try:
                number = Decimal(raw)
                moment = (
                    from_excel(float(number), self.epoch)
                    if number.is_finite()
                    else CellError("#NUM!")
                )
            except InvalidOperation:
                moment = DAMAGED
            except (ValueError, OverflowError):
                moment = number
            if len(self.moments) < 10_000:
                self.moments[raw] = moment
        return moment


# --- cells as the import reads them ---------------------------------------------------------


class BadCell(str):
    """A cell that cannot be read as text for its column, with the reason (its text is the
    cell as Excel shows it): the row is rejected with that reason, never imported as empty."""

    en: str
    zh: str

    def __new__(cls, shown: str, en: str, zh: str) -> BadCell:
        cell = super().__new__(cls, shown)
        cell.en, cell.zh = en, zh
        return cell


CENT = Decimal("0.01")
_TOLERANCE = Decimal("1e-9")  # a binary float's artefact: 0.1+0.2 is 0.30000000000000004
EXACT_DIGITS = 15  # the significant digits Excel keeps of a number


def _number_text(number: Decimal) -> str:
    """A number as written, without an exponent or trailing zeros: 1234.5, 3, 0.125."""
    if not number.is_finite() or abs(number.adjusted()) > 40:
        return str(number)  # nothing any column takes: its parser says so
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _number_for_a_date(number: Decimal, kind: str) -> str:
    """A whole number in a date column: 20250901 is read as written; another is what Excel
    shows when a date cell lost its date format (45901): refused, saying which date it would be,
    never taken for one silently."""
    text = _number_text(number)
    if len(text) == 8 and text[:2] in ("19", "20"):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    if number > 2_958_465:  # after 9999-12-31 in Excel's calendar
        return text
    moment = from_excel(int(number))
    shown = f"{moment:%Y-%m}" if kind == "month" else f"{moment:%Y-%m-%d}"
    return BadCell(
        text,
        f"the cell is the number {text}, not a date (as a date it would be {shown}): format the "
        "column as a date and check the value",
        f"该单元格是数字 {text}，不是日期（如果是日期，应为 {shown}）：请将该列设为日期格式并核对",
    )


def cell_text(value: Cell, kind: str) -> str:
    """The text of a typed cell, for a column of `kind` (record_types.kind_of): what the same
    cell would say in a CSV file, so that parse_cells decides as it does for CSV.

    - amounts: the exact decimal, a float artefact (1234.5600000000001) taken back to its
      cents; a number with more cents than that stays as it is and is refused by the amount's
      parser (never rounded silently);
    - dates: ISO; months: YYYY-MM; yes/no: 是/否;
    - codes and other text written as numbers: the digits, unless Excel has already cut them to
      15 significant digits (an 18-digit number): a BadCell;
    - an Excel error (#N/A) or a formula never calculated: a BadCell.
    """
    if value is None:
        return ""
    kind_of_value = type(value)
    if kind_of_value is str:
        return value  # type: ignore[return-value]
    if kind_of_value is Decimal:
        number: Decimal = value  # type: ignore[assignment]
        if kind == "amount":
            cents = number.quantize(CENT) if abs(number) < 10**15 else number
            if cents != number and abs(number - cents) <= _TOLERANCE * max(1, abs(number)):
                number = cents
            return _number_text(number) if number != cents else f"{cents:.2f}"
        if kind in ("date", "month") and number == number.to_integral_value() and number > 0:
            return _number_for_a_date(number, kind)
        if kind in ("date", "month"):  # 2025.10 typed as a number is 2025.1: October or January?
            shown = _number_text(number)
            return BadCell(
                shown,
                f"the cell is the number {shown}, not a {kind}: a number drops trailing zeros "
                "(2025.10 becomes 2025.1), so the month cannot be told; write it as text "
                "(2025-10) or as a date",
                f"该单元格是数字 {shown}，不是{'月份' if kind == 'month' else '日期'}："
                "数字会去掉末尾的 0（2025.10 变成 2025.1），无法判断月份；"
                "请写成文本（如 2025-10）或日期",
            )
        if (
            kind in ("text", "enum", "accounts")
            and abs(number) >= 10**EXACT_DIGITS
            and number == number.to_integral_value()
        ):
            shown = _number_text(number)
            return BadCell(
                shown,
                f"the cell is a number of {len(shown.lstrip('-'))} digits ({shown}); Excel "
                f"keeps only {EXACT_DIGITS} digits of a number, so the last ones may be lost: "
                "format the column as text and type the code again",
                f"该单元格是 {len(shown.lstrip('-'))} 位数字（{shown}）；Excel 只保留数字的前 "
                f"{EXACT_DIGITS} 位，末几位可能已丢失：请将该列设为“文本”格式后重新输入",
            )
        return _number_text(number)
    if kind_of_value is bool:
        if kind == "bool":
            return "是" if value else "否"
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if kind == "month":
            return f"{value:%Y-%m}"
        if kind == "date" or (value.hour, value.minute, value.second) == (0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return f"{value:%Y-%m}" if kind == "month" else value.isoformat()
    if isinstance(value, CellError):
        return BadCell(
            value,
            f"the cell holds the Excel error {value} (a formula that failed): correct it in the "
            "workbook",
            f"该单元格是 Excel 错误值 {value}（公式计算失败）：请在工作簿中改正",
        )
    if value is DAMAGED:
        return BadCell(
            "",
            "the cell is damaged in the file (it refers to text or holds a number the workbook "
            "does not have): open the workbook in Excel or WPS, save it, and import it again",
            "该单元格在文件中已损坏（引用了不存在的文本或数值）："
            "请用 Excel 或 WPS 打开并保存后重新导入",
        )
    if value is UNCALCULATED:
        return BadCell(
            "",
            "the cell is a formula that was never calculated (the file was written by a "
            "program): open the workbook in Excel or WPS, save it, and import it again",
            "该单元格是从未计算过的公式（文件由程序生成）：请用 Excel 或 WPS 打开并保存后重新导入",
        )
    return str(value)  # a time or a duration: as Excel would show it
