"""Bulk CSV import (spec §2–§3): read a file of one record type, validate, upsert, report.

Reading streams the file (memory stays bounded on a million rows):
- encoding: UTF-8 BOM, then strict UTF-8 over the whole file, then strict GB18030, else the file
  is refused. charset-normalizer only *suggests* an encoding in the refusal message; it never
  decides (it misreads short and late-Chinese files, see style.md).
- delimiter: comma, tab or semicolon, whichever the header line uses most.
- headers: English or Chinese names, after NFKC, trimming and lower-casing; unknown columns are
  warnings; missing required columns refuse the file.

Every row goes through record_types.parse_cells (the validation the web forms use) and then
records.RecordWriter in chunks (Core executemany, COPY on PostgreSQL). Modes: default commits the
valid rows; atomic commits nothing when any row is rejected; dry run commits nothing. Dry runs and
atomic failures run the same writes inside the transaction and roll them back, so their report is
exactly what a real import would say. Every import leaves an ImportBatch row and an audit entry.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gc
import hashlib
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice, zip_longest
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from feecheck.domain.categories import Role
from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.domain.reasons import Problem, Refused
from feecheck.domain.regions import is_district_level, validate_region_code, within
from feecheck.models import ImportBatch, User
from feecheck.services import audit, locks
from feecheck.services.locks import BATCHES, also_lock, begin_write, import_lock, is_busy
from feecheck.services.record_types import (
    RECORD_TYPES,
    RecordType,
    join_lines,
    kind_of,
    normalise_header,
    parse_cells,
    record_type_of_sheet,
    unit_in,
)
from feecheck.services.scope import NotFound
from feecheck.services.upsert import Actor, RecordWriter
from feecheck.services.workbooks import (
    BadCell,
    Sheet,
    Workbook,
    cell_text,
    column_letter,
    is_workbook,
    office_file_refusal,
)
from feecheck.services.workers import WORKER as WORKER  # where tests and callers found it
from feecheck.services.workers import alive, worker

ENCODINGS = ("auto", "utf-8", "gb18030")
DELIMITERS = (",", "\t", ";")
CHUNK = 5000
BLOCK = 1 << 20  # bytes per read when checking the encoding
MAX_STORED_ERRORS = 10_000  # errors kept on the ImportBatch row (the CLI prints them all)

Progress = Callable[[int, int], None]
logger = logging.getLogger(__name__)  # (rows done, rows expected)


class FileRefused(Refused):
    """The file cannot be read at all; nothing is written. Exit status 2 in the CLI."""


@dataclass
class SheetCounts:
    """What one sheet of a workbook import did."""

    sheet: str
    record_type: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def text(self) -> str:
        return (
            f"{self.sheet}（{self.record_type}）：{self.rows} 行，新增 {self.created}，更新 "
            f"{self.updated}，未变 {self.unchanged}，拒绝 {self.rejected} / {self.sheet} "
            f"({self.record_type}): {self.rows} rows: created {self.created}, updated "
            f"{self.updated}, unchanged {self.unchanged}, rejected {self.rejected}"
        )


@dataclass
class ImportReport:
    file_name: str
    record_type: str
    batch_id: int | None = None
    status: str = "pending"
    encoding: str | None = None
    delimiter: str | None = None
    sha256: str = ""
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[Problem] = field(default_factory=list)  # the first MAX_STORED_ERRORS
    problem_count: int = 0  # every problem found, kept or not
    committed_rows: int = 0  # rows read up to the last chunk committed (chunked imports)
    committed_line: int = 0
    committed_where: str = ""  # the sheet of committed_line (a workbook)
    warnings: list[str] = field(default_factory=list)
    sheets: list[SheetCounts] = field(default_factory=list)  # a workbook's, one per sheet
    message: str | None = None  # the file-level refusal, bilingual

    @property
    def exit_code(self) -> int:
        """Spec §3: 0 all rows valid; 1 some rows rejected; 2 the file could not be read."""
        if self.status == "failed":
            return 2
        return 1 if self.rejected else 0

    def error_lines(self) -> list[str]:
        """`FILE:LINE: column: reason`, one line per rejected row."""
        return format_error_lines(self.file_name, self.errors)


def format_error_lines(file_name: str, problems: list[Problem]) -> list[str]:
    """`FILE:LINE: column: reason[; column: reason]` per rejected CSV row; a workbook's cells
    one per line, as Excel names them: `FILE:收费记录!D17: column: reason`."""
    lines: list[str] = []
    current: int | None = None
    for problem in problems:
        part = f"{problem.column}: {problem.text}" if problem.column else problem.text
        if problem.where:
            lines.append(f"{file_name}:{problem.where}: {part}")
            current = None
        elif problem.line == current:
            lines[-1] += f"; {part}"
        else:
            lines.append(f"{file_name}:{problem.line}: {part}")
            current = problem.line
    return lines


# --- reading ----------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _decodes(path: Path, codec: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec)("strict")
    try:
        with path.open("rb") as f:
            while block := f.read(BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _suggestion(head: bytes) -> str:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset-normalizer is a dependency
        return ""
    best = from_bytes(head).best()
    return best.encoding if best is not None else ""


def detect_encoding(path: Path, requested: str = "auto") -> str:
    """The codec to read the file with: utf-8-sig, utf-8 or gb18030; FileRefused otherwise.

    A file that is valid GB18030 but whose characters are mostly outside the common Chinese set
    (GB2312) is another encoding read wrongly (Latin-1 "Müller", Shift-JIS): refused, unless
    GB18030 was asked for explicitly.
    """
    if requested not in ENCODINGS:
        raise FileRefused(f"unknown encoding {requested!r}", f"不支持的编码 {requested}")
    with path.open("rb") as f:
        head = f.read(65536)
    if not head.strip():
        raise FileRefused("the file is empty", "文件是空的")
    office = office_file_refusal(head)  # an .xls or an encrypted workbook (a zip: is_workbook)
    if office is not None:
        raise FileRefused(office.en, office.zh)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused(
            "the file is UTF-16 (Excel “Unicode text”); save it as “CSV UTF-8 (逗号分隔)”",
            "文件是 UTF-16 编码（Excel“Unicode 文本”）；请另存为“CSV UTF-8（逗号分隔）”",
        )
    if b"\x00" in head:
        raise FileRefused(
            "the file holds binary data (NUL bytes); it is not a CSV file",
            "文件含有二进制数据（NUL 字节），不是 CSV 文件",
        )
    if head.startswith(codecs.BOM_UTF8) and requested in ("auto", "utf-8"):
        candidates = ["utf-8-sig"]
    elif requested == "utf-8":
        candidates = ["utf-8"]
    elif requested == "gb18030":
        candidates = ["gb18030"]
    else:
        candidates = ["utf-8", "gb18030"]
    for codec in candidates:
        if _decodes(path, codec):
            if codec == "gb18030" and requested == "auto":
                _refuse_mojibake(path, head)
            return codec
    raise _undecodable(path, head, requested, candidates)


def _undecodable(path: Path, head: bytes, requested: str, candidates: list[str]) -> FileRefused:
    tried = " / ".join("UTF-8" if c.startswith("utf") else "GB18030" for c in candidates)
    other = {"utf-8": "gb18030", "gb18030": "utf-8"}.get(requested)
    if other and _decodes(path, other):
        name = "GB18030" if other == "gb18030" else "UTF-8"
        return FileRefused(
            f"the file is not valid {tried}, but it is valid {name}: choose encoding auto "
            f"(or {other})",
            f"文件不是有效的 {tried} 编码，但是有效的 {name} 编码：请选择“自动”（或 {other}）",
        )
    guess = _suggestion(head)
    hint_en = f" (a detector guesses {guess})" if guess else ""
    hint_zh = f"（自动检测猜测为 {guess}）" if guess else ""
    return FileRefused(
        f"the file is not valid {tried}{hint_en}; save it as “CSV UTF-8” and import it again",
        f"文件不是有效的 {tried} 编码{hint_zh}；请另存为“CSV UTF-8”后重新导入",
    )


@lru_cache(maxsize=1)
def _gb2312() -> frozenset[str]:
    """The characters of GB2312: the common Chinese set every real GBK file is mostly made of."""
    chars = set()
    for lead in range(0xA1, 0xF8):
        for trail in range(0xA1, 0xFF):
            with suppress(UnicodeDecodeError):
                chars.add(bytes((lead, trail)).decode("gb2312"))
    return frozenset(chars)


MOJIBAKE_SHARE = 0.3  # below this share of common characters, GB18030 is the wrong reading
SAMPLE_CHARS = 1 << 20


def _refuse_mojibake(path: Path, head: bytes) -> None:
    with path.open(encoding="gb18030") as f:
        sample = f.read(SAMPLE_CHARS)
    wide = [ch for ch in sample if ord(ch) > 127]
    if not wide:
        return
    common = _gb2312()
    share = sum(ch in common for ch in wide) / len(wide)
    if share >= MOJIBAKE_SHARE:
        return
    guess = _suggestion(head)
    hint_en = f" (a detector guesses {guess})" if guess else ""
    hint_zh = f"（自动检测猜测为 {guess}）" if guess else ""
    raise FileRefused(
        f"the file reads as GB18030, but only {share:.0%} of its {len(wide)} non-ASCII "
        f"characters are common Chinese characters: it is probably another encoding{hint_en}, "
        "e.g. “Müller” saved as Latin-1. Save it as “CSV UTF-8”, or choose encoding gb18030 "
        "if it really is GB18030",
        f"文件可按 GB18030 读取，但 {len(wide)} 个非 ASCII 字符中只有 {share:.0%} 是常用汉字，"
        f"很可能是其他编码{hint_zh}（例如 Latin-1 保存的外文姓名）。请另存为“CSV UTF-8”；"
        "如确为 GB18030，请明确选择 gb18030 编码",
    )


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter the most lines use most (a title line above the header has none)."""
    counts = {d: max((line.count(d) for line in lines), default=0) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class TableSource:
    """A table of one record type, opened: its columns and its rows, streamed. A CSV file
    (CsvSource) or a workbook's sheet (SheetSource) supplies the raw rows; what a row means
    (blank, a repeated header, a footer, extra cells, defaults) is decided here for both."""

    path: Path
    record_type: RecordType
    encoding: str
    delimiter: str | None
    columns: dict[str, int]  # field name -> column index
    headers: dict[str, str]  # field name -> the header as written in the file
    warnings: list[str]
    header_width: int = 0  # cells in the header row
    header_line: int = 1  # the physical line the header ends on
    header_keys: tuple[str, ...] = ()  # the header's normalised cells (repeated headers)
    fill: dict[str, str] = field(default_factory=dict)  # field -> value for absent columns
    # field -> value for empty cells of a column the file has (--region; a unit in a header)
    defaults: dict[str, str] = field(default_factory=dict)
    default_reasons: dict[str, str] = field(default_factory=dict)
    must_agree: frozenset[str] = frozenset()  # defaults that cells may not contradict (a unit)

    notes: list[str] = field(default_factory=list)  # found while reading (extra cells)

    def _raw(self) -> Iterator[tuple[int, list[str] | None, Problem | None]]:
        """(line, the row's cells, None) after the header, or (line, None, why it is unreadable)."""
        raise NotImplementedError

    def locate(self, problem: Problem, line: int | None = None) -> Problem:
        """A problem of a row (its column a field's name) as the file names it: the line and
        the column's header."""
        return problem.at(line, self.headers.get(problem.column, problem.column))

    def expected_rows(self) -> int:
        """About how many rows there are, for progress displays."""
        return max(count_lines(self.path) - 1, 0)

    def close(self) -> None:
        pass

    def rows(self) -> Iterator[RowRead]:
        """(line of the record's first physical line, {field: cell} or None, problem or None).

        Blank rows are skipped. A record the CSV reader cannot parse (an unterminated quote, a
        stray quote, a cell beyond FIELD_LIMIT) comes with its problem instead of cells, and the
        reading goes on with the next line.
        """
        names = list(self.columns)
        indexes = list(self.columns.values())
        width = max(indexes) + 1
        header_width = self.header_width
        pick = itemgetter(*indexes)
        single = len(indexes) == 1
        extra_lines: list[int] = []
        extra_count = 0
        repeated: list[int] = []
        fill = self.fill
        defaults = self.defaults
        defaulted: dict[str, int] = dict.fromkeys(defaults, 0)
        footers: list[tuple[int, str]] = []
        header_keys = self.header_keys
        first_key = header_keys[0] if header_keys else None
        for line, row, problem in self._raw():
            if row is None:
                yield line, None, problem
                continue
            if not "".join(row).strip():  # a blank row: every cell empty or whitespace
                continue
            if (first_key is None or normalise_header(row[0]) == first_key) and _repeats_header(
                row, header_keys
            ):
                repeated.append(line)  # a PDF's or a printout's header on every page
                continue
            footer = _footer(row)
            if footer is not None:
                footers.append((line, footer))  # 合计…, 注：…, 填表人… under a published list
                continue
            size = len(row)
            if size > header_width and any(c.strip() for c in row[header_width:]):
                extra_count += 1
                if len(extra_lines) < 20:
                    extra_lines.append(line)
            if size < width:
                row = row + [""] * (width - size)
            record = dict(zip(names, (pick(row),) if single else pick(row), strict=True))
            if fill:
                record.update(fill)
            if defaults:
                conflict = None
                for name, value in defaults.items():
                    if not record[name].strip():
                        record[name] = value
                        defaulted[name] += 1
                    elif name in self.must_agree:
                        conflict = self._disagrees(line, name, record[name], value)
                if conflict is not None:
                    yield line, None, conflict
                    continue
            yield line, record, None
        if footers:
            shown = "; ".join(f"{line} {text[:20]}" for line, text in footers[:5]) + (
                " …" if len(footers) > 5 else ""
            )
            self.notes.append(
                f"{len(footers)} 行是合计、说明或页眉页脚（第 {shown} 行），已跳过 / "
                f"{len(footers)} lines are totals, notes or page lines, not records (lines "
                f"{shown}), and were skipped"
            )
        for name, count in defaulted.items():
            if count:
                zh, why = self.record_type.field(name).zh, self.default_reasons[name]
                self.notes.append(
                    f"{count} 行的“{zh}”为空，已填为 {defaults[name]}（{why}） / {count} rows "
                    f"had an empty {name}: filled with {defaults[name]} ({why})"
                )
        if repeated:
            listed = ", ".join(map(str, repeated[:20])) + (" …" if len(repeated) > 20 else "")
            self.notes.append(
                f"{len(repeated)} 行重复了表头（第 {listed} 行），已跳过 / {len(repeated)} lines "
                f"repeat the header (lines {listed}) and were skipped"
            )
        if extra_count:
            shown = ", ".join(map(str, extra_lines)) + (
                " …" if extra_count > len(extra_lines) else ""
            )
            self.notes.append(
                f"{extra_count} 行的单元格多于表头（第 {shown} 行），多出的单元格已忽略 / "
                f"{extra_count} rows have more cells than the header (lines {shown}); "
                "the extra cells were ignored"
            )

    def _disagrees(self, line: int, name: str, cell: str, value: str) -> Problem | None:
        """A cell that contradicts what the header says for its column (元/月 above, 天 in it)."""
        try:
            written = self.record_type.field(name).parse(cell.strip())
        except (Refused, ValueError):
            return None  # parse_cells reports it
        if written == value:
            return None
        header = self.default_reasons.get(name, "")
        zh = self.record_type.field(name).zh
        return Problem(
            line,
            name,
            f"the column says {written}, its header {header!r} says per {value}: correct one of "
            "them",
            f"“{zh}”为{_UNIT_ZH.get(written, written)}，表头“{header}”却写明按"
            f"{_UNIT_ZH.get(value, value)}计：请改正其中之一",
        )


@dataclass
class CsvSource(TableSource):
    """An opened CSV file of one record type, read with its encoding and delimiter."""

    def _raw(self) -> Iterator[tuple[int, list[str] | None, Problem | None]]:
        with self.path.open(encoding=self.encoding, newline="") as f:
            reader = csv.reader(f, delimiter=self.delimiter or ",", strict=True)
            while reader.line_num < self.header_line:  # the title rows and the header
                next(reader, None)
            previous = reader.line_num
            while True:
                line = previous + 1
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    problem = _malformed(line, reader.line_num, str(exc))
                    previous = reader.line_num
                    yield line, None, problem
                    continue
                previous = reader.line_num
                yield line, row, None


@dataclass
class SheetSource(TableSource):
    """A workbook's sheet of one record type: typed cells read as the text a CSV would hold
    (workbooks.cell_text, by the kind of each column's field); a cell that cannot be (#N/A, a
    formula never calculated, an 18-digit number) is a BadCell, the row's error."""

    workbook: Workbook | None = None
    sheet: Sheet | None = None

    def _raw(self) -> Iterator[tuple[int, list[str] | None, Problem | None]]:
        assert self.workbook is not None and self.sheet is not None
        kinds = {
            index: kind_of(self.record_type.field(name)) for name, index in self.columns.items()
        }
        width = max(self.header_width, max(kinds) + 1)
        converters = [_converter(kinds.get(index, "text")) for index in range(width)]
        text = _converter("text")
        header_line = self.header_line
        for line, cells in self.workbook.rows(self.sheet):
            if line <= header_line:
                continue
            for i, value in enumerate(cells):
                if type(value) is not str:  # most cells are text: kept as they are
                    if value is None:
                        cells[i] = ""
                    else:
                        cells[i] = (converters[i] if i < width else text)(value)
            yield line, cells, None

    def locate(self, problem: Problem, line: int | None = None) -> Problem:
        row = problem.line if line is None else line
        index = self.columns.get(problem.column)
        cell = f"{column_letter(index)}{row}" if index is not None else f"{row}:{row}"
        return problem.at(
            row,
            self.headers.get(problem.column, problem.column),
            f"{_sheet_ref(self.sheet)}!{cell}",
        )

    def expected_rows(self) -> int:
        assert self.workbook is not None and self.sheet is not None
        return max(self.workbook.row_count(self.sheet) - self.header_line, 0)


def _converter(kind: str) -> Callable[[Any], str]:
    """cell_text for one column; the values of a column repeat (dates, amounts): converted once
    each, keyed by type too (Decimal 1 and True are equal)."""
    done: dict[tuple[type, Any], str] = {}

    def convert(value: Any) -> str:
        key = (value.__class__, value)
        text = done.get(key)
        if text is None:
            text = cell_text(value, kind)
            if len(done) < 4096 and type(text) is str:
                done[key] = text
        return text

    return convert


def _sheet_ref(sheet: Sheet | None) -> str:
    """A sheet's name as a cell reference writes it: quoted when it holds a space or a sign."""
    name = sheet.name if sheet is not None else ""
    if re.fullmatch(r"[\w\u3400-\u9fff]+", name):
        return name
    return "'" + name.replace("'", "''") + "'"


def open_sheet(
    workbook: Workbook, sheet: Sheet, record_type: RecordType, fill: dict[str, str] | None = None
) -> SheetSource:
    """A sheet's header found as a CSV file's is (title rows above it skipped, said so), after
    the whole sheet was read through once (workbooks.Workbook.check: damage anywhere refuses
    it before a row is written; merged cells are spread)."""
    workbook.check(sheet)
    fill = {k: v for k, v in (fill or {}).items() if v}
    text = _converter("text")

    def records() -> Iterator[tuple[int, int, list[str]]]:
        for line, cells in workbook.rows(sheet):
            yield line, line, [text(v) if v is not None else "" for v in cells]

    header = _find_header(record_type, records(), fill)
    return SheetSource(
        workbook.path,
        record_type,
        "xlsx",
        None,
        **_layout(record_type, header, fill),
        workbook=workbook,
        sheet=sheet,
    )


def pick_sheet(workbook: Workbook, record_type: RecordType) -> tuple[Sheet, list[str]]:
    """The sheet of `record_type`: the one named after it (收费记录, charges, 收费…), else the
    only visible sheet; with the warnings to show (hidden sheets passed over). FileRefused
    when there is none, or the sheet named after the type is hidden."""
    named = [s for s in workbook.sheets if record_type_of_sheet(s.name) is record_type]
    visible = [s for s in workbook.sheets if not s.hidden]
    warnings = [
        f"隐藏的工作表“{s.name}”未导入 / the hidden sheet {s.name!r} was not imported"
        for s in workbook.sheets
        if s.hidden
    ]
    if named:
        shown = [s for s in named if not s.hidden]
        if len(shown) > 1:
            names = "、".join(s.name for s in shown)
            raise FileRefused(
                f"sheets {names} all hold {record_type.name}: keep one, or import them one by one",
                f"工作表 {names} 都是{record_type.zh}：请只保留一个，或分别导入",
            )
        if not shown and named[0].state == "veryHidden":
            name = named[0].name
            raise FileRefused(
                f"the sheet {name!r} is very hidden (only a macro can show it): copy its rows "
                "to a visible sheet if it is the one to import",
                f"工作表“{name}”被深度隐藏（只能用宏显示）：如需导入，请把其中的行复制到可见的工作表",
            )
        if not shown:
            name = named[0].name
            raise FileRefused(
                f"the sheet {name!r} is hidden: unhide it in Excel (right-click a sheet tab, "
                "Unhide) if it is the one to import",
                f"工作表“{name}”是隐藏的：如需导入，请在 Excel 中取消隐藏"
                "（右键工作表标签→取消隐藏）",
            )
        return shown[0], warnings
    if len(visible) == 1:
        return visible[0], warnings
    names = "、".join(s.name for s in visible) or "-"
    raise FileRefused(
        f"no sheet is named after {record_type.name} ({record_type.sheet}) and the workbook has "
        f"{len(visible)} visible sheets ({names}): rename the sheet to {record_type.sheet}",
        f"没有名为“{record_type.sheet}”的工作表，而工作簿有 {len(visible)} 个可见工作表"
        f"（{names}）：请将要导入的工作表命名为“{record_type.sheet}”",
    )


_UNIT_ZH = {"month": "月", "semester": "学期", "day": "天"}
RowRead = tuple[int, dict[str, str] | None, Problem | None]
# Lines under a published list that are not records: totals, notes, who filled it in.
_FOOTER = re.compile(
    r"^(?:合计|总计|小计|共计|注[:：\d、]|注释|备注[:：]|说明[:：]|附注|附件|填表|填报|制表|审核|"
    r"负责人|联系人|联系电话|数据来源|以上)"
)
# The signatures under a list, whatever else their row holds: 单位负责人：王五 … 填表人：张三
_SIGNATURE = re.compile(
    r"^(?:单位|财务|分管|主管)?(?:负责人|领导|填表人|制表人|审核人|经办人|联系人|"
    r"制表日期|填报日期|填表日期|报送日期)[:：]"
)
_NUMERIC = re.compile(r"^[¥￥]?-?[\d,]+(?:\.\d+)?\s*(?:元|所|人|个|名)?$")


# A line alone in its row that a printout or a PDF repeats on its pages: 第 1 页，共 2 页, a title
# carried over (…名单（续表）), Page 2 of 5.
_PAGE_LINE = re.compile(
    r"第\s*\d+\s*页|共\s*\d+\s*页|续表|[（(]续[）)]|名单|一览表|统计表|^page\s*\d+", re.IGNORECASE
)


def _footer(row: list[str]) -> str | None:
    """The text of a line that is not a record (合计：2所, 注：…, 第 1 页，共 2 页, a title carried
    over to the next page, 单位负责人：… 填表人：…), or None: a footer starts with such a word and
    holds nothing else but numbers (the totals); a page line is alone in its row; a row of
    signatures starts with one, whatever follows."""
    if len(row) > 1 and row[0].isascii() and row[0].strip() and row[1].strip():
        # the common row: an ASCII first cell (NFKC leaves it as it is, and every footer word
        # is Chinese) and a second cell, so not alone in its row either
        return None
    cells = [c.strip() for c in row if c.strip()]
    if not cells:
        return None
    first = "".join(unicodedata.normalize("NFKC", cells[0]).split())  # 合  计 is 合计
    if len(cells) == 1 and _PAGE_LINE.search(first):
        return cells[0]
    if _SIGNATURE.match(first):
        return cells[0]
    if not _FOOTER.match(first):
        return None
    if all(_NUMERIC.match(unicodedata.normalize("NFKC", c)) for c in cells[1:]):
        return cells[0]
    return None


FIELD_LIMIT = 16 << 20  # characters in one cell; a longer one is that row's error
csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))


def _malformed(line: int, last_line: int, message: str) -> Problem:
    if "unexpected end of data" in message:
        return Problem(
            line,
            "",
            f"unterminated quote starting at line {line}: lines {line}..{last_line} could not be "
            'read (close the quote, or remove the stray " character)',
            f"第 {line} 行开始的引号没有闭合：第 {line} 至 {last_line} 行无法读取"
            '（请补上右引号，或删除多余的 " 字符）',
        )
    if "field larger than field limit" in message:
        return Problem(
            line,
            "",
            f"a cell is longer than {FIELD_LIMIT:,} characters",
            f"有单元格超过 {FIELD_LIMIT:,} 个字符",
        )
    return Problem(line, "", f"not a valid CSV row: {message}", f"不是有效的 CSV 行：{message}")


HEADER_SCAN = 30  # records searched for the header row (title rows come above it)


def open_csv(
    path: Path, record_type: RecordType, encoding: str = "auto", fill: dict[str, str] | None = None
) -> CsvSource:
    """Check the encoding and find the header row; FileRefused when the file cannot be imported.

    The header is the first of the first HEADER_SCAN records that names every required column
    (title rows above it are skipped and said so). `fill` gives values for columns the file
    does not have (`--region` fills region_code).
    """
    codec = detect_encoding(path, encoding)
    fill = {k: v for k, v in (fill or {}).items() if v}
    with path.open(encoding=codec, newline="") as f:
        head = [line for _, line in zip(range(HEADER_SCAN), f, strict=False)]
    if not "".join(head).strip():
        raise FileRefused("the file holds no header row", "文件没有表头行")
    delimiter = _sniff_delimiter(head)

    def records() -> Iterator[tuple[int, int, list[str]]]:
        with path.open(encoding=codec, newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            while True:
                starts = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise FileRefused(f"not a CSV file: {exc}", f"不是 CSV 文件：{exc}") from exc
                yield starts, reader.line_num, cells

    header = _find_header(record_type, records(), fill)
    return CsvSource(path, record_type, codec, delimiter, **_layout(record_type, header, fill))


@dataclass
class _Header:
    start: int  # the first line (or row) of the header
    line: int  # the last: the rows start after it
    cells: list[str]
    columns: dict[str, int]
    two_rows: bool  # written over two rows (幼儿园 / 名称 in one column), joined


def _find_header(
    record_type: RecordType, records: Iterator[tuple[int, int, list[str]]], fill: dict[str, str]
) -> _Header:
    """The header among the first HEADER_SCAN records (first line, last line, cells): the first
    that names every required column, else the one naming most (and the file is refused)."""
    required = {f.name for f in record_type.fields if f.required} - set(fill)
    best: _Header | None = None
    found_best = -1
    above: tuple[int, list[str]] | None = None  # the row before, for two-row headers
    for starts, ends, cells in islice(records, HEADER_SCAN):
        candidates = [(starts, cells, False)]
        if above is not None and any(c.strip() for c in above[1]):
            joined = [_joined(a, b) for a, b in zip_longest(above[1], cells, fillvalue="")]
            candidates.append((above[0], joined, True))
        for first, header_cells, joined_rows in candidates:
            columns = _columns_of(record_type, header_cells)
            found = len(required & set(columns))
            if found > found_best:
                best = _Header(first, ends, header_cells, columns, joined_rows)
                found_best = found
        if found_best == len(required):
            break
        above = (starts, cells)
    if best is None:
        raise FileRefused("the file holds no header row", "文件没有表头行")
    missing = [f for f in record_type.fields if f.name in required and f.name not in best.columns]
    if missing:
        wanted = ", ".join(f"{f.name} ({f.zh})" for f in missing)
        shown = ", ".join(join_lines(c.strip()) for c in best.cells if c.strip())[:300] or "-"
        raise FileRefused(
            f"required columns missing for {record_type.name}: {wanted}; the header has: {shown}",
            f"{record_type.zh}文件缺少必填列：{wanted}；表头为：{shown}",
        )
    return best


def _joined(above: str, below: str) -> str:
    """Two header rows' cells of one column as one: 幼儿园 over 名称 is 幼儿园名称; a cell merged
    down both rows (行政区划代码 twice) is itself."""
    above, below = above.strip(), below.strip()
    return above if above == below else above + below


def _layout(record_type: RecordType, header: _Header, fill: dict[str, str]) -> dict[str, Any]:
    """What a table source needs to know besides its rows: the columns, the header as written,
    warnings about it, and the values filled in for absent columns or empty cells."""
    columns = header.columns
    headers = {name: join_lines(header.cells[index].strip()) for name, index in columns.items()}
    taken = set(columns.values())
    warnings = []
    for i, c in enumerate(header.cells):
        text = join_lines(c.strip())
        if not text or i in taken:
            continue
        also = record_type.field_for_header(c)
        if also is not None:  # a second column naming a field: say which one is used
            used = headers[also]
            warnings.append(
                f"列“{text}”与“{used}”都表示 {also}，使用“{used}”，该列已忽略 / column {text!r} "
                f"also names {also}; {used!r} is used and this one ignored"
            )
        else:
            warnings.append(f"列“{text}”无法识别，已忽略 / unknown column {text!r} ignored")
    if header.two_rows:
        warnings.append(
            f"表头写在第 {header.start} 至 {header.line} 两行，已按列合并 / the header is written "
            f"over lines {header.start} and {header.line}; the two rows were joined column by "
            "column"
        )
    if header.start > 1:
        warnings.append(
            f"表头在第 {header.start} 行，其上的 {header.start - 1} 行（标题等）已跳过 / "
            f"the header is on line {header.start}; the {header.start - 1} line(s) above it "
            "(a title) were skipped"
        )
    filled = {name: value for name, value in fill.items() if name not in columns}
    # a column the file has, with some cells empty: --region fills them (it never overrides a
    # region written in the file)
    defaults = {name: value for name, value in fill.items() if name in columns}
    reasons = dict.fromkeys(defaults, "--region")
    agree: set[str] = set()
    if record_type.name == "fee-standards" and "amount" in columns:
        unit = unit_in(normalise_header(headers["amount"]))  # 收费标准（元/生·月）
        if unit is not None and "unit" not in columns:
            filled["unit"] = unit
            warnings.append(
                f"计费单位取自表头“{headers['amount']}” / the unit ({unit}) is taken from the "
                f"header {headers['amount']!r}"
            )
        elif unit is not None:  # empty 计费单位 cells take the header's unit; others agree with it
            defaults["unit"] = unit
            reasons["unit"] = headers["amount"]
            agree.add("unit")
    for name, value in fill.items():
        if name in columns:
            continue
        warnings.append(
            f"文件没有“{record_type.field(name).zh}”列，按 --region 填为 {value} / the file has no "
            f"{name} column: filled with {value} (--region)"
        )
    return {
        "columns": columns,
        "headers": headers,
        "warnings": warnings,
        "header_width": len(header.cells),
        "header_line": header.line,
        "header_keys": _header_keys(header.cells),
        "fill": filled,
        "defaults": defaults,
        "default_reasons": reasons,
        "must_agree": frozenset(agree),
    }


def _columns_of(record_type: RecordType, cells: list[str]) -> dict[str, int]:
    """field -> column index for a header row. When two columns name one field, the one written
    as the field's own name (English or Chinese) wins, else the alias listed first in
    RECORD_TYPES (the licence number before the credit code), else the first column."""
    columns: dict[str, int] = {}
    ranks: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = record_type.field_for_header(cell)
        if name is None:
            continue
        rank = record_type.header_rank(name, cell)
        if rank <= 1 and ranks.get(name, 99) <= 1:
            first = cells[columns[name]].strip()
            raise FileRefused(
                f"column {name} appears twice ({first!r} and {cell.strip()!r})",
                f"列 {name} 出现了两次（“{first}”和“{cell.strip()}”）",
            )
        if rank < ranks.get(name, 99):
            columns[name], ranks[name] = index, rank
    return columns


def _header_keys(cells: list[str]) -> tuple[str, ...]:
    return tuple(normalise_header(c) for c in cells)


def _repeats_header(row: list[str], header_keys: tuple[str, ...]) -> bool:
    """Whether the row starts with the header's cells (normalised): _header_keys(row) begins
    with header_keys, compared cell by cell and given up at the first that differs."""
    if len(row) < len(header_keys):
        return False
    return all(normalise_header(c) == k for c, k in zip(row, header_keys, strict=False))


def count_lines(path: Path) -> int:
    """Physical lines in the file, a cheap estimate of the rows for progress displays."""
    lines = 0
    last = b"\n"
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


# --- importing --------------------------------------------------------------------------------


@dataclass
class ImportOptions:
    dry_run: bool = False
    atomic: bool = False
    encoding: str = "auto"
    region_code: str | None = None  # the acting user's scope; None: everywhere
    chunk_size: int = CHUNK
    fill_region: str | None = None  # --region: the region_code of a file without that column


def start_batch(
    session: Session,
    record_type: str,
    path: Path,
    file_name: str,
    user: User | None,
    options: ImportOptions,
) -> ImportBatch:
    """Record an import before it runs (status pending), committed so that it outlives a failure."""
    sha256 = file_sha256(path)
    begin_write(session, BATCHES)
    batch = ImportBatch(
        record_type=record_type,
        file_name=file_name[:255],
        sha256=sha256,
        status="pending",
        worker=worker(),
        fill_region=options.fill_region,
        atomic=options.atomic,
        user_id=user.id if user else None,
    )
    session.add(batch)
    session.commit()
    return batch


def run_import(
    session: Session,
    record_type_name: str,
    path: Path,
    *,
    taxonomy: FeeItemTaxonomy,
    user: User | None = None,
    actor: Actor | None = None,
    file_name: str | None = None,
    options: ImportOptions | None = None,
    progress: Progress | None = None,
    on_error: Callable[[Problem], None] | None = None,
    batch: ImportBatch | None = None,
) -> ImportReport:
    """Import one CSV file; commits or rolls back the session itself and returns the report.

    Never raises for anything in the file or the database: every outcome is a report, and the
    batch always ends in a final state (a kill leaves it `running` until the next import or the
    next start marks it failed: fail_stale_batches). Without --atomic and --dry-run the rows are
    committed chunk by chunk, so writers take turns; `on_error` sees every rejected row's
    problems as they are found (the report keeps the first MAX_STORED_ERRORS); `progress` is
    called after every chunk.
    """
    options = options or ImportOptions()
    path = Path(path)
    name = file_name or path.name
    record_type = RECORD_TYPES.get(record_type_name)
    report = ImportReport(name, record_type_name)
    if record_type is None and record_type_name != WORKBOOK:
        report.status = "failed"
        report.message = f"未知的文件类型 / unknown record type {record_type_name!r}"
        return report
    try:
        fail_stale_batches(session)
        if batch is None:
            batch = start_batch(session, record_type_name, path, name, user, options)
    except Refused as exc:  # busy before anything was recorded: no batch to mark
        session.rollback()
        report.status = "failed"
        report.message = f"{exc.zh}；未写入任何数据 / {exc.en}; nothing was written"
        return report
    report.batch_id, report.sha256 = batch.id, batch.sha256
    actor = actor or Actor.of(user, "import")
    begin_write(session, BATCHES)
    batch.status, batch.worker, batch.heartbeat_at = "running", worker(), datetime.now(UTC)
    session.commit()
    opened: list[Workbook] = []
    try:
        sources = _open_sources(path, record_type_name, options, report, opened)
        expected = sum(s.expected_rows() for s in sources) if progress else 0
        writing = False
        with _fewer_collections():
            for source in sources:
                before = _counts(report)
                writing = _import_rows(
                    session,
                    source,
                    batch,
                    taxonomy,
                    actor,
                    options,
                    report,
                    progress,
                    on_error,
                    expected,
                    writing,
                )
                _source_done(report, source, before, several=record_type_name == WORKBOOK)
    except Refused as exc:  # the file (FileRefused) or a lock (Busy)
        _stopped(session, report, exc.en, exc.zh)
    except (csv.Error, UnicodeDecodeError) as exc:
        _stopped(session, report, f"the file could not be read: {exc}", f"文件无法读取：{exc}")
    except SQLAlchemyError as exc:
        if is_busy(exc):
            busy = locks.busy(import_lock(record_type_name))
            _stopped(session, report, busy.en, busy.zh)
        else:
            logger.exception("import batch %s: database error", batch.id)
            _stopped(session, report, f"database error: {_first_line(exc)}", "数据库错误")
    except Exception as exc:  # never leave a batch running, never show a traceback
        logger.exception("import batch %s: internal error", batch.id)
        _stopped(session, report, f"internal error: {_first_line(exc)}", "内部错误")
    except BaseException:  # interrupted (Ctrl-C): record it, then let it stop the program
        _stopped(session, report, "interrupted", "导入被中断")
        _finish_batch(session, batch, report, actor, options)
        raise
    else:
        if options.dry_run:
            session.rollback()
            report.status = "dry_run"
        elif options.atomic and report.rejected:
            session.rollback()
            report.status = "rejected"
        else:
            session.commit()
            report.status = "committed"
    finally:
        for workbook in opened:
            workbook.close()
    if len(report.errors) < report.problem_count:
        report.warnings.append(
            f"只保存了前 {len(report.errors):,} 条错误（共 {report.problem_count:,} 条），"
            "命令行导入会逐条列出全部错误 / only the first "
            f"{len(report.errors):,} of {report.problem_count:,} problems are kept with the "
            "batch; the command line lists them all"
        )
    _finish_batch(session, batch, report, actor, options)
    return report


WORKBOOK = "workbook"  # `feecheck import workbook FILE.xlsx`: every sheet named after a type


def _open_sources(
    path: Path,
    record_type_name: str,
    options: ImportOptions,
    report: ImportReport,
    opened: list[Workbook],
) -> list[TableSource]:
    """The tables to import, their headers checked, before anything is written: a CSV file;
    a workbook's sheet of the type; or, for `workbook`, every sheet named after a type in the
    order of RECORD_TYPES (what a row refers to comes first). Sheets named after nothing, or
    hidden, are reported and passed over."""
    if not is_workbook(path):
        with path.open("rb") as f:
            office = office_file_refusal(f.read(1 << 16))
        if office is not None:
            raise office
        if record_type_name == WORKBOOK:
            raise FileRefused(
                "`import workbook` takes an Excel workbook (.xlsx); import a CSV file with its "
                "type (feecheck import charges FILE.csv)",
                "“导入工作簿”只接受 Excel 工作簿（.xlsx）；CSV 文件请按类型导入",
            )
        record_type = RECORD_TYPES[record_type_name]
        source: TableSource = open_csv(
            path, record_type, options.encoding, _fill(record_type, options)
        )
        report.encoding, report.delimiter = source.encoding, source.delimiter
        report.warnings.extend(source.warnings)
        return [source]
    workbook = Workbook(path)
    opened.append(workbook)
    report.encoding = "xlsx"
    if record_type_name != WORKBOOK:
        record_type = RECORD_TYPES[record_type_name]
        sheet, warnings = pick_sheet(workbook, record_type)
        report.warnings.extend(warnings)
        source = open_sheet(workbook, sheet, record_type, _fill(record_type, options))
        report.warnings.extend(f"{sheet.name}: {w}" for w in source.warnings)
        return [source]
    chosen: dict[str, Sheet] = {}
    for sheet in workbook.sheets:
        record_type = record_type_of_sheet(sheet.name)
        if record_type is None:
            report.warnings.append(
                f"工作表“{sheet.name}”不是任何记录类型，已忽略 / sheet {sheet.name!r} is not "
                "named after a record type and was ignored"
            )
        elif sheet.hidden:
            report.warnings.append(
                f"隐藏的工作表“{sheet.name}”未导入 / the hidden sheet {sheet.name!r} was not "
                "imported"
            )
        elif _empty(workbook, sheet):
            report.warnings.append(
                f"工作表“{sheet.name}”是空的，已跳过 / sheet {sheet.name!r} is empty and was "
                "skipped"
            )
        elif record_type.name in chosen:
            first = chosen[record_type.name].name
            raise FileRefused(
                f"sheets {first!r} and {sheet.name!r} both hold {record_type.name}: keep one",
                f"工作表“{first}”和“{sheet.name}”都是{record_type.zh}：请只保留一个",
            )
        else:
            chosen[record_type.name] = sheet
    if not chosen:
        names = "、".join(t.sheet for t in RECORD_TYPES.values())
        raise FileRefused(
            f"no sheet of the workbook is named after a record type: name them {names}",
            f"工作簿中没有以记录类型命名的工作表：请命名为 {names}",
        )
    sources: list[TableSource] = []
    for name, record_type in RECORD_TYPES.items():  # the order a workbook is imported in
        if name in chosen:
            sheet = chosen[name]
            try:
                source = open_sheet(workbook, sheet, record_type, _fill(record_type, options))
            except FileRefused as exc:
                raise FileRefused(
                    f"sheet {sheet.name!r}: {exc.en}", f"工作表“{sheet.name}”：{exc.zh}"
                ) from exc
            report.warnings.extend(f"{sheet.name}: {w}" for w in source.warnings)
            sources.append(source)
    return sources


def _empty(workbook: Workbook, sheet: Sheet) -> bool:
    """Whether the sheet holds no cell with anything in it (read up to the first that does)."""
    for _line, cells in workbook.rows(sheet):
        if any(c is not None and (type(c) is not str or c.strip()) for c in cells):
            return False
    return True


def _counts(report: ImportReport) -> tuple[int, int, int, int, int]:
    return (report.rows_total, report.created, report.updated, report.unchanged, report.rejected)


def _source_done(
    report: ImportReport, source: TableSource, before: tuple[int, ...], several: bool
) -> None:
    """A source's notes into the report; a workbook's sheet also counted on its own."""
    sheet = source.sheet.name if isinstance(source, SheetSource) and source.sheet else ""
    report.warnings.extend(f"{sheet}: {note}" if sheet else note for note in source.notes)
    if several:
        counts = (now - then for then, now in zip(before, _counts(report), strict=True))
        report.sheets.append(SheetCounts(sheet, source.record_type.name, *counts))


GC_THRESHOLD = 50_000  # allocations between young collections while an import runs (700 else)
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect young objects less often while rows are imported.

    An import allocates millions of short-lived dicts and tuples that form no cycles (cells,
    records, parameter rows); at the default threshold the collector runs every 700 of them and
    takes a fifth of the reading time. Imports running at once share one saved setting: the
    last to finish restores it.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], GC_THRESHOLD), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


def _fill(record_type: RecordType, options: ImportOptions) -> dict[str, str]:
    """Values for columns a file may leave out: --region fills a district's own list."""
    region = options.fill_region
    if not region or not any(f.name == "region_code" for f in record_type.fields):
        return {}
    try:
        validate_region_code(region)
    except ValueError as exc:
        raise FileRefused(
            f"--region must be a 6-digit region code, not {region!r}",
            f"--region 必须是 6 位行政区划代码，而不是 {region}",
        ) from exc
    if not within(region, options.region_code):
        raise FileRefused(
            f"--region {region} is outside your region {options.region_code}",
            f"--region {region} 不在您的辖区 {options.region_code} 内",
        )
    return {"region_code": region}


def _stopped(session: Session, report: ImportReport, en: str, zh: str) -> None:
    """The import stopped: roll back what is not committed and say what was kept."""
    session.rollback()
    report.status = "failed"
    if report.committed_rows:
        where = report.committed_where
        en += (
            f" (the rows up to {where + ' row' if where else 'line'} {report.committed_line} "
            "were committed before it stopped; "
            "importing the file again finishes it and reports them unchanged)"
        )
        zh += (
            f"（{report.committed_where}第 {report.committed_line} 行之前的数据已写入；"
            "重新导入该文件即可完成，已写入的行会显示为未变）"
        )
    else:
        en += "; nothing was written"
        zh += "；未写入任何数据"
        report.created = report.updated = 0
    report.message = f"{zh} / {en}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _import_rows(
    session: Session,
    source: TableSource,
    batch: ImportBatch,
    taxonomy: FeeItemTaxonomy,
    actor: Actor,
    options: ImportOptions,
    report: ImportReport,
    progress: Progress | None,
    on_error: Callable[[Problem], None] | None,
    expected: int = 0,
    writing: bool = False,
) -> bool:
    """Read, check and write the rows of one source into `report` (its counts add up over the
    sources of a workbook). `writing`: a write transaction is open already (an atomic or dry
    workbook import, at its second sheet); returns whether one is open."""
    record_type = source.record_type
    writer = RecordWriter(
        session,
        record_type,
        actor,
        taxonomy,
        import_batch_id=batch.id,
        audit_creations=False,  # creations are audited once, on the batch (see _finish_batch)
        region_code=options.region_code,
        fields_given=set(source.columns),
    )
    commit_chunks = not options.dry_run and not options.atomic
    lock = import_lock(record_type.name)
    done = report.rows_total
    locked = False
    for rows_read, last_line, valid, problems in _parsed(source, options):
        if valid:
            if not writing:  # one write transaction per chunk, or one for the whole file
                begin_write(session, lock)
                writing = locked = not commit_chunks
            elif not locked:  # the transaction an earlier sheet began: this type's lock too
                also_lock(session, lock)
                locked = True
            result = writer.write(valid)
            report.created += result.created
            report.updated += result.updated
            report.unchanged += result.unchanged
            problems.extend(source.locate(e) for e in result.errors)
        done += rows_read
        report.rows_total = done
        if commit_chunks and valid:
            batch.rows_done, batch.heartbeat_at = done, datetime.now(UTC)
            session.commit()
            writer.after_commit()
            report.committed_rows, report.committed_line = done, last_line
            report.committed_where = (
                _sheet_ref(source.sheet) if isinstance(source, SheetSource) else ""
            )
        problems.sort(key=lambda p: p.line)
        report.rejected += len({p.line for p in problems})
        report.problem_count += len(problems)
        room = MAX_STORED_ERRORS - len(report.errors)
        if room > 0:
            report.errors.extend(problems[:room])
        if on_error is not None:
            for problem in problems:
                on_error(problem)
        if progress is not None:
            progress(done, max(expected, done))
    source.notes.extend(writer.notes())
    return writing


ParsedChunk = tuple[int, int, list[tuple[int, dict[str, Any]]], list[Problem]]


def _parsed(source: TableSource, options: ImportOptions) -> Iterator[ParsedChunk]:
    """(rows read, last line read, valid typed records, problems) per chunk of the file."""
    record_type = source.record_type
    rows = source.rows()
    locate = source.locate
    typed = isinstance(source, SheetSource)  # its cells may be BadCells
    coarse: list[tuple[int, str]] = []  # a city or province code where a district is expected
    while chunk := list(islice(rows, options.chunk_size)):
        valid: list[tuple[int, dict[str, Any]]] = []
        problems: list[Problem] = []
        for line, cells, problem in chunk:
            if cells is None:
                if problem is not None:
                    problems.append(locate(problem, line))
                continue
            bad = None
            if typed:
                bad = {name: c for name, c in cells.items() if type(c) is BadCell}
                if bad:
                    cells = {**cells, **dict.fromkeys(bad, "")}
            record, cell_errors = parse_cells(record_type, cells)
            if bad:
                cell_errors = [e for e in cell_errors if e.column not in bad] + [
                    Problem(line, name, cell.en, cell.zh) for name, cell in bad.items()
                ]
            if cell_errors:
                problems.extend(locate(e, line) for e in cell_errors)
            else:
                valid.append((line, record))
                region = record.get("region_code")
                if region and not is_district_level(region):
                    coarse.append((line, region))
        yield len(chunk), chunk[-1][0], valid, problems
    if coarse:
        shown = ", ".join(f"{line} ({code})" for line, code in coarse[:10])
        more = " …" if len(coarse) > 10 else ""
        source.notes.append(
            f"{len(coarse)} 行的行政区划代码是市级或省级代码（第 {shown}{more} 行），已按原样导入；"
            "区县的规则需要区县代码 / "
            f"{len(coarse)} rows give a city or province code where a district's is expected "
            f"(lines {shown}{more}); imported as written, but district rules need the district's"
        )


# --- batches that outlived their process ----------------------------------------------------


def _stale(batch: ImportBatch, now: datetime) -> bool:
    return batch.worker != worker() and not alive(batch.worker, batch.heartbeat_at, now)


def fail_stale_batches(session: Session) -> int:
    """Mark failed the batches left pending or running by a process that has died.

    Called before every import and when the web app starts; returns how many were marked. Reads
    first: the write lock is taken only when there is something to mark.
    """
    now = datetime.now(UTC)
    unfinished = select(ImportBatch).where(ImportBatch.status.in_(("pending", "running")))
    candidates = [batch.id for batch in session.scalars(unfinished) if _stale(batch, now)]
    if not candidates:
        return 0
    begin_write(session, BATCHES)
    stale = [  # read again under the lock: one may have finished meanwhile
        batch
        for batch in session.scalars(
            unfinished.where(ImportBatch.id.in_(candidates)).execution_options(
                populate_existing=True
            )
        )
        if _stale(batch, now)
    ]
    for batch in stale:
        kept = f"（已写入 {batch.rows_done} 行）" if batch.rows_done else ""
        kept_en = f" ({batch.rows_done} rows were committed)" if batch.rows_done else ""
        batch.status = "failed"
        batch.finished_at = now
        batch.message = (
            f"导入进程在完成前停止{kept}；请重新导入该文件 / the process running this import "
            f"stopped before it finished{kept_en}; import the file again"
        )
    session.commit()
    return len(stale)


def _finish_batch(
    session: Session,
    batch: ImportBatch,
    report: ImportReport,
    actor: Actor,
    options: ImportOptions,
) -> None:
    """Store the outcome on the batch and one audit entry for the whole import, and commit."""
    begin_write(session, BATCHES)
    batch.status = report.status
    batch.encoding = report.encoding
    batch.rows_total = batch.rows_done = report.rows_total
    batch.created, batch.updated = report.created, report.updated
    batch.unchanged, batch.rejected = report.unchanged, report.rejected
    batch.errors = [p.as_dict() for p in report.errors]
    batch.warnings = [counts.text() for counts in report.sheets] + report.warnings
    batch.message = report.message
    batch.finished_at = datetime.now(UTC)
    written = report.status == "committed"
    audit.record(
        session,
        actor,
        [
            audit.Change(
                "import",
                report.record_type,
                f"batch {batch.id}: {report.file_name}",
                None,
                {
                    "status": report.status,
                    "sha256": report.sha256,
                    "encoding": report.encoding,
                    "rows": report.rows_total,
                    "created": report.created if written else 0,
                    "updated": report.updated if written else 0,
                    "unchanged": report.unchanged,
                    "rejected": report.rejected,
                    "dry_run": options.dry_run,
                    "atomic": options.atomic,
                    **(
                        {"sheets": [dataclasses.asdict(counts) for counts in report.sheets]}
                        if report.sheets
                        else {}
                    ),
                },
            )
        ],
        batch.id,
    )
    session.commit()


def get_batch(session: Session, user: User, batch_id: int) -> ImportBatch:
    """A batch the user started (admins see every batch); NotFound otherwise."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None or (batch.user_id != user.id and user.role != Role.ADMIN.value):
        raise NotFound(batch_id)
    return batch


def recent_batches(session: Session, user: User, limit: int = 20) -> list[ImportBatch]:
    """The user's latest batches (an admin's: everyone's), newest first."""
    statement = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)
    if user.role != Role.ADMIN.value:
        statement = statement.where(ImportBatch.user_id == user.id)
    return list(session.scalars(statement))


def stored_upload(instance_path: Path | str, batch_id: int) -> Path:
    """Where the web keeps an uploaded file between the preview and the commit."""
    folder = Path(instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{batch_id}.csv"


UPLOAD_MAX_AGE = timedelta(days=1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def upload_name(filename: str | None) -> str:
    """An uploaded file's name as recorded and shown (never used as a path): its last part,
    without control characters, at most 255 characters."""
    name = _CONTROL.sub("", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])[:255]
    return name.strip() or "upload.csv"


def prune_uploads(instance_path: Path | str, max_age: timedelta = UPLOAD_MAX_AGE) -> int:
    """Delete previewed uploads nobody committed within `max_age`; returns how many."""
    folder = Path(instance_path) / "imports"
    if not folder.is_dir():
        return 0
    cutoff = datetime.now(UTC).timestamp() - max_age.total_seconds()
    pruned = 0
    for path in folder.iterdir():
        with suppress(FileNotFoundError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                pruned += 1
    return pruned


def discard_upload(instance_path: Path | str, batch_id: int) -> None:
    path = Path(instance_path) / "imports" / f"{batch_id}.csv"
    if path.exists():
        os.unlink(path)
