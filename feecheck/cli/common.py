"""Helpers shared by the CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import click


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit with the given status."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def workbook_stdout() -> BinaryIO:
    """Standard output (binary) for a workbook; refused with one line when it is a terminal."""
    if sys.stdout.isatty():
        fail(
            "--format xlsx 输出的是 Excel 工作簿，不能显示在终端：请用 -o 文件.xlsx 或重定向输出 / "
            "--format xlsx writes a workbook: give -o FILE.xlsx or redirect the output"
        )
    sys.stdout.flush()
    return sys.stdout.buffer


def output_format(given: str | None, path: Path | None, formats: tuple[str, ...]) -> str:
    """--format as given; else what -o's suffix names (a.xlsx: xlsx) if it is one of
    `formats`; else the first of them."""
    if given is not None:
        return given
    suffix = path.suffix.lower().lstrip(".") if path is not None else ""
    return suffix if suffix in formats else formats[0]


def output_path(path: Path | None) -> None:
    """Refuse, with one line, an -o whose folder does not exist."""
    if path is not None and not path.parent.is_dir():
        fail(f"-o {path}: 目录不存在 / no such directory {path.parent}")


FORMATS = ("text", "json", "csv", "xlsx")  # check's and ledger's --format


def format_option(
    formats: tuple[str, ...] = FORMATS,
    help: str = "text (default), json, csv or xlsx; with -o and no --format, from the file's "
    "suffix.",
) -> Callable[[Any], Any]:
    """--format (into the parameter `output`), None when not given: see output_format."""
    return click.option("--format", "output", type=click.Choice(formats), help=help)


def output_option(help: str = "Write here instead of standard output.") -> Callable[[Any], Any]:
    """-o/--output FILE (into the parameter `path`)."""
    return click.option(
        "-o",
        "--output",
        "path",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        help=help,
    )
