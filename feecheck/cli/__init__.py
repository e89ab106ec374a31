"""The command line, registered the flaskr way: create_app() calls init_app(app), which adds each
family's commands to app.cli, so `flask --app feecheck ...` and the `feecheck` script (a
FlaskGroup around create_app) list and run the same commands.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def init_app(app: Flask) -> None:
    from feecheck.cli import check, export, imports, jobs, ledger, reports, rules, setup

    for module in (setup, imports, export, check, reports, ledger, rules, jobs):
        for command in module.COMMANDS:
            app.cli.add_command(command)


def _create_app() -> Flask:
    from feecheck import create_app
    from feecheck.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:  # one line, not a traceback
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """feecheck: kindergarten fee compliance checker."""
