"""Helpers shared by the CLI commands."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear line to stderr and exit with the given status."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
