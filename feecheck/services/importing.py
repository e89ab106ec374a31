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
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.domain.reasons import Problem, Refused
from feecheck.models import ImportBatch, User
from feecheck.services import audit
from feecheck.services.record_types import (
    RECORD_TYPES,
    RecordType,
    normalise_header,
    parse_cells,
)
from feecheck.services.upsert import Actor, RecordWriter

ENCODINGS = ("auto", "utf-8", "gb18030")
DELIMITERS = (",", "\t", ";")
CHUNK = 5000
BLOCK = 1 << 20  # bytes per read when checking the encoding
MAX_STORED_ERRORS = 10_000  # errors kept on the ImportBatch row (the CLI prints them all)

Progress = Callable[[int, int], None]  # (rows done, rows expected)


class FileRefused(Refused):
    """The file cannot be read at all; nothing is written. Exit status 2 in the CLI."""


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
    warnings: list[str] = field(default_factory=list)
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
    lines: list[str] = []
    current: int | None = None
    for problem in problems:
        part = f"{problem.column}: {problem.text}"
        if problem.line == current:
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
    """The codec to read the file with: utf-8-sig, utf-8 or gb18030; FileRefused otherwise."""
    if requested not in ENCODINGS:
        raise FileRefused(f"unknown encoding {requested!r}", f"不支持的编码 {requested}")
    with path.open("rb") as f:
        head = f.read(65536)
    if not head.strip():
        raise FileRefused("the file is empty", "文件是空的")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(
            "this is an Excel workbook, not CSV: save it as “CSV UTF-8 (逗号分隔)” and import that",
            "这是 Excel 工作簿而不是 CSV 文件：请另存为“CSV UTF-8（逗号分隔）”后再导入",
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused(
            "the file is UTF-16 (Excel “Unicode text”); save it as “CSV UTF-8 (逗号分隔)”",
            "文件是 UTF-16 编码（Excel“Unicode 文本”）；请另存为“CSV UTF-8（逗号分隔）”",
        )
    if requested == "utf-8" or (requested == "auto" and head.startswith(codecs.BOM_UTF8)):
        candidates = ["utf-8-sig"]
    elif requested == "gb18030":
        candidates = ["gb18030"]
    else:
        candidates = ["utf-8", "gb18030"]
    for codec in candidates:
        if _decodes(path, codec):
            if b"\x00" in head:
                raise FileRefused(
                    "the file holds binary data (NUL bytes); it is not a CSV file",
                    "文件含有二进制数据（NUL 字节），不是 CSV 文件",
                )
            return codec
    tried = " / ".join("UTF-8" if c.startswith("utf") else "GB18030" for c in candidates)
    guess = _suggestion(head)
    hint_en = f"; a detector guesses {guess}, which feecheck does not accept" if guess else ""
    hint_zh = f"；自动检测猜测为 {guess}，本系统不接受该编码" if guess else ""
    raise FileRefused(
        f"the file is not valid {tried}{hint_en}; save it as “CSV UTF-8” or choose the encoding",
        f"文件不是有效的 {tried} 编码{hint_zh}；请另存为“CSV UTF-8”或指定编码",
    )


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvSource:
    """An opened CSV file of one record type: its encoding, columns and rows, streamed."""

    path: Path
    record_type: RecordType
    encoding: str
    delimiter: str
    columns: dict[str, int]  # field name -> column index
    headers: dict[str, str]  # field name -> the header as written in the file
    warnings: list[str]

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(line of the row's first physical line, {field: cell}); blank rows are skipped."""
        names = list(self.columns)
        indexes = list(self.columns.values())
        width = max(indexes) + 1
        pick = itemgetter(*indexes)
        single = len(indexes) == 1
        with self.path.open(encoding=self.encoding, newline="") as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            next(reader, None)
            previous = reader.line_num
            for row in reader:
                line = previous + 1
                previous = reader.line_num
                if not any(row):
                    continue
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                yield line, dict(zip(names, (pick(row),) if single else pick(row), strict=True))


def open_csv(path: Path, record_type: RecordType, encoding: str = "auto") -> CsvSource:
    """Check the encoding and the header row; FileRefused when the file cannot be imported."""
    codec = detect_encoding(path, encoding)
    with path.open(encoding=codec, newline="") as f:
        first = f.readline()
        if not first.strip():
            raise FileRefused("the first line (the header) is empty", "第一行（表头）是空的")
        delimiter = _sniff_delimiter(first)
        f.seek(0)
        try:
            header = next(csv.reader(f, delimiter=delimiter))
        except csv.Error as exc:
            raise FileRefused(f"not a CSV file: {exc}", f"不是 CSV 文件：{exc}") from exc
    known = record_type.header_map()
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    unknown: list[str] = []
    for index, cell in enumerate(header):
        name = known.get(normalise_header(cell))
        if name is None:
            if cell.strip():
                unknown.append(cell.strip())
            continue
        if name in columns:
            raise FileRefused(
                f"column {name} appears twice ({headers[name]!r} and {cell.strip()!r})",
                f"列 {name} 出现了两次（“{headers[name]}”和“{cell.strip()}”）",
            )
        columns[name] = index
        headers[name] = cell.strip()
    missing = [f for f in record_type.fields if f.required and f.name not in columns]
    if missing:
        wanted = ", ".join(f"{f.name} ({f.zh})" for f in missing)
        found = ", ".join(c.strip() for c in header if c.strip())[:300] or "-"
        raise FileRefused(
            f"required columns missing for {record_type.name}: {wanted}; the header has: {found}",
            f"{record_type.zh}文件缺少必填列：{wanted}；表头为：{found}",
        )
    warnings = [f"列“{c}”无法识别，已忽略 / unknown column {c!r} ignored" for c in unknown]
    return CsvSource(path, record_type, codec, delimiter, columns, headers, warnings)


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


def start_batch(
    session: Session,
    record_type: str,
    path: Path,
    file_name: str,
    user: User | None,
    options: ImportOptions,
) -> ImportBatch:
    """Record an import before it runs (status pending), committed so that it outlives a failure."""
    batch = ImportBatch(
        record_type=record_type,
        file_name=file_name[:255],
        sha256=file_sha256(path),
        status="pending",
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

    `on_error` sees every rejected row's problems as they are found (the report keeps only the
    first MAX_STORED_ERRORS); `progress` is called after every chunk.
    """
    options = options or ImportOptions()
    path = Path(path)
    name = file_name or path.name
    record_type = RECORD_TYPES.get(record_type_name)
    report = ImportReport(name, record_type_name)
    if record_type is None:
        report.status = "failed"
        report.message = f"未知的文件类型 / unknown record type {record_type_name!r}"
        return report
    if batch is None:
        batch = start_batch(session, record_type_name, path, name, user, options)
    report.batch_id, report.sha256 = batch.id, batch.sha256
    actor = actor or Actor.of(user, "import")
    batch.status = "running"
    session.commit()
    try:
        source = open_csv(path, record_type, options.encoding)
        report.encoding, report.delimiter = source.encoding, source.delimiter
        report.warnings = source.warnings
        _import_rows(session, source, batch, taxonomy, actor, options, report, progress, on_error)
    except FileRefused as exc:
        session.rollback()
        report.status, report.message = "failed", exc.text
    except (csv.Error, UnicodeDecodeError, SQLAlchemyError) as exc:
        session.rollback()
        report.status = "failed"
        report.message = f"导入中断，未写入任何数据 / the import stopped, nothing written: {exc}"
    else:
        if options.dry_run:
            session.rollback()
            report.status = "dry_run"
        elif options.atomic and report.rejected:
            session.rollback()
            report.status = "rejected"
        else:
            report.status = "committed"
    _finish_batch(session, batch, report, actor, options)
    return report


def _import_rows(
    session: Session,
    source: CsvSource,
    batch: ImportBatch,
    taxonomy: FeeItemTaxonomy,
    actor: Actor,
    options: ImportOptions,
    report: ImportReport,
    progress: Progress | None,
    on_error: Callable[[Problem], None] | None,
) -> None:
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
    expected = max(count_lines(source.path) - 1, 0) if progress else 0
    headers = source.headers
    done = 0
    for rows_read, valid, problems in _parsed(source, options):
        if valid:
            result = writer.write(valid)
            report.created += result.created
            report.updated += result.updated
            report.unchanged += result.unchanged
            problems.extend(e.at(column=headers.get(e.column, e.column)) for e in result.errors)
        problems.sort(key=lambda p: p.line)
        report.rejected += len({p.line for p in problems})
        room = MAX_STORED_ERRORS - len(report.errors)
        if room > 0:
            report.errors.extend(problems[:room])
        if on_error is not None:
            for problem in problems:
                on_error(problem)
        done += rows_read
        report.rows_total = done
        if progress is not None:
            progress(done, max(expected, done))


ParsedChunk = tuple[int, list[tuple[int, dict[str, Any]]], list[Problem]]


def _parsed(source: CsvSource, options: ImportOptions) -> Iterator[ParsedChunk]:
    """(rows read, valid typed records, problems) per chunk of the file."""
    record_type, headers = source.record_type, source.headers
    rows = source.rows()
    while chunk := list(islice(rows, options.chunk_size)):
        valid: list[tuple[int, dict[str, Any]]] = []
        problems: list[Problem] = []
        for line, cells in chunk:
            record, cell_errors = parse_cells(record_type, cells)
            if cell_errors:
                problems.extend(e.at(line, headers.get(e.column, e.column)) for e in cell_errors)
            else:
                valid.append((line, record))
        yield len(chunk), valid, problems


def _finish_batch(
    session: Session,
    batch: ImportBatch,
    report: ImportReport,
    actor: Actor,
    options: ImportOptions,
) -> None:
    """Store the outcome on the batch and one audit entry for the whole import, and commit."""
    batch.status = report.status
    batch.encoding = report.encoding
    batch.rows_total = batch.rows_done = report.rows_total
    batch.created, batch.updated = report.created, report.updated
    batch.unchanged, batch.rejected = report.unchanged, report.rejected
    batch.errors = [p.as_dict() for p in report.errors]
    batch.warnings = report.warnings
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
                },
            )
        ],
        batch.id,
    )
    session.commit()


def stored_upload(instance_path: Path | str, batch_id: int) -> Path:
    """Where the web keeps an uploaded file between the preview and the commit."""
    folder = Path(instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{batch_id}.csv"


def discard_upload(instance_path: Path | str, batch_id: int) -> None:
    path = Path(instance_path) / "imports" / f"{batch_id}.csv"
    if path.exists():
        os.unlink(path)
