"""`feecheck export TYPE|all [--region CODE] [--format csv|xlsx] [--language zh|en] [-o FILE]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext

from feecheck.cli.common import (
    fail,
    format_option,
    output_format,
    output_option,
    output_path,
    workbook_stdout,
)
from feecheck.domain.regions import validate_region_code
from feecheck.extensions import db
from feecheck.services.exporting import export_csv, export_workbook
from feecheck.services.record_types import RECORD_TYPES


@click.command("export")
@click.argument("type_name", metavar="TYPE|all", type=click.Choice([*RECORD_TYPES, "all"]))
@click.option("--region", "region_code", help="Only this region (6-digit district/city/province).")
@format_option(
    ("csv", "xlsx"),
    "csv (one type) or xlsx (a workbook: a sheet per type); default: from -o's suffix, else "
    "csv (xlsx for all).",
)
@click.option(
    "--language",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="The CSV's headers and enum values (a workbook is always in Chinese).",
)
@output_option()
@with_appcontext
def export_command(
    type_name: str, region_code: str | None, output: str | None, language: str, path: Path | None
) -> None:
    """Export the records of one type, or of every type (all), in the columns the import reads:
    an export imports back unchanged. CSV: UTF-8 with BOM, cells escaped against formulas.
    xlsx: a sheet per type (幼儿园, 幼儿, 收费标准…), Chinese headers, dates and amounts typed."""
    output = output_format(output, path, ("xlsx",) if type_name == "all" else ("csv", "xlsx"))
    if output == "csv" and type_name == "all":
        fail("all 导出为一个工作簿：请用 --format xlsx / all makes one workbook: use --format xlsx")
    if region_code is not None:
        try:
            region_code = validate_region_code(region_code.strip())
        except ValueError:
            fail(
                f"--region 须为 6 位行政区划代码 / --region must be a 6-digit code: {region_code!r}"
            )
    output_path(path)
    types = list(RECORD_TYPES.values()) if type_name == "all" else [RECORD_TYPES[type_name]]
    session = db.session
    try:
        if output == "xlsx":
            target: Any = path if path is not None else workbook_stdout()
            written = export_workbook(session, types, target, region_code=region_code)
        else:
            (record_type,) = types
            lang: Any = language
            if path is None:
                n = export_csv(session, record_type, sys.stdout, lang, True, region_code)
            else:
                with path.open("w", encoding="utf-8", newline="") as stream:
                    n = export_csv(session, record_type, stream, lang, True, region_code)
            written = {record_type.name: n}
    except OSError as exc:
        fail(f"无法写入 / cannot write {path or 'standard output'}: {exc}")
    summary = ", ".join(f"{RECORD_TYPES[name].sheet} {n}" for name, n in written.items())
    click.echo(f"{path or 'stdout'}: {summary} 行 / rows", err=True)


COMMANDS = [export_command]
