"""`feecheck import TYPE FILE... [--dry-run] [--atomic] [--encoding auto|utf-8|gb18030]
[--region CODE]`; FILE is a CSV file or an Excel workbook (.xlsx), and TYPE `workbook` imports
every sheet of a workbook named after a type, as one batch."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from feecheck.domain.reasons import Problem
from feecheck.engine.taxonomy import load_taxonomy
from feecheck.extensions import db
from feecheck.services.audit import Actor
from feecheck.services.importing import (
    ENCODINGS,
    WORKBOOK,
    ImportOptions,
    ImportReport,
    count_lines,
    format_error_lines,
    run_import,
)
from feecheck.services.record_types import RECORD_TYPES

BAR_MIN_ROWS = 20_000  # smaller files finish before a bar would be worth drawing
BAR_MIN_BYTES = 1 << 20  # a workbook is compressed: its lines say nothing


@click.command("import")
@with_appcontext
@click.argument("record_type", metavar="TYPE", type=click.Choice([*RECORD_TYPES, WORKBOOK]))
@click.argument(
    "files", metavar="FILE...", nargs=-1, required=True, type=click.Path(dir_okay=False)
)
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("--atomic", is_flag=True, help="Write nothing if any row is rejected.")
@click.option(
    "--encoding",
    type=click.Choice(ENCODINGS),
    default="auto",
    show_default=True,
    help="auto: BOM, then strict UTF-8, then strict GB18030.",
)
@click.option(
    "--region",
    "fill_region",
    help="The region code of a district's own list that has no region_code column.",
)
def import_command(
    record_type: str,
    files: tuple[str, ...],
    dry_run: bool,
    atomic: bool,
    encoding: str,
    fill_region: str | None,
) -> None:
    """Import CSV files or Excel workbooks of one record type (spec §2), or with TYPE
    `workbook` every sheet of a workbook named after a type (幼儿园, 幼儿, 收费标准, 收费记录,
    财政经费, 退费, 缺勤记录, 检查记录), in that order, as one batch.

    Prints the counts and one line per rejected row (FILE:LINE: column: reason; a workbook's
    cells as FILE:收费记录!D17: column: reason). Exit status: 0 every row valid, 1 some rows
    rejected, 2 a file could not be read at all.
    """
    taxonomy = load_taxonomy(current_app.config["RULES_DIR"])
    options = ImportOptions(
        dry_run=dry_run, atomic=atomic, encoding=encoding, fill_region=fill_region
    )
    status = 0
    for name in files:
        path = Path(name)
        if not path.is_file():
            click.echo(f"error: {name}: 文件不存在 / no such file", err=True)
            status = 2
            continue
        status = max(status, _import_one(record_type, path, name, taxonomy, options))
    if status:
        raise SystemExit(status)


def _import_one(
    record_type: str, path: Path, name: str, taxonomy: Any, options: ImportOptions
) -> int:
    # tqdm: already a dependency; it shows rows/s and the time left, writes to stderr, and
    # switches itself off when stderr is not a terminal (disable=None), so pipes stay clean.
    bar: tqdm[Any] | None = None
    if path.stat().st_size > BAR_MIN_BYTES or count_lines(path) > BAR_MIN_ROWS:
        bar = tqdm(total=0, unit=" rows", desc=name, leave=False, dynamic_ncols=True, disable=None)
    pending: list[Problem] = []

    def flush() -> None:
        for line in format_error_lines(name, pending):
            (bar.write if bar is not None else click.echo)(line)
        pending.clear()

    def progress(done: int, expected: int) -> None:
        flush()  # one chunk's rejected rows, in line order, as soon as the chunk is done
        if bar is not None:
            bar.total = expected
            bar.update(done - bar.n)

    session = db.session
    try:
        report = run_import(
            session,
            record_type,
            path,
            taxonomy=taxonomy,
            actor=_cli_actor(),
            file_name=name,
            options=options,
            progress=progress,
            on_error=pending.append,
        )
    finally:
        if bar is not None:
            bar.close()
    flush()
    if report.status == "failed":
        click.echo(f"error: {name}: {report.message}", err=True)
        return 2
    _summary(report)
    return report.exit_code


def _cli_actor() -> Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers
        who = "unknown"
    return Actor(f"cli:{who}"[:64])


def _summary(report: ImportReport) -> None:
    for warning in report.warnings:
        click.echo(f"warning: {report.file_name}: {warning}", err=True)
    counts = (
        f"created {report.created}, updated {report.updated}, "
        f"unchanged {report.unchanged}, rejected {report.rejected}"
    )
    if report.status == "dry_run":
        outcome = "dry run, nothing written"
    elif report.status == "rejected":
        outcome = "atomic: rows were rejected, nothing written"
    else:
        outcome = "committed"
    for sheet in report.sheets:
        click.echo(
            f"  {sheet.sheet} ({sheet.record_type}): {sheet.rows} rows: created {sheet.created}, "
            f"updated {sheet.updated}, unchanged {sheet.unchanged}, rejected {sheet.rejected}"
        )
    click.echo(
        f"{report.file_name}: {report.rows_total} rows ({report.encoding}): {counts} "
        f"[{outcome}; batch {report.batch_id}]"
    )


COMMANDS = [import_command]
