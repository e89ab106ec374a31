"""The `feecheck` console script: a Flask CLI group, so `flask --app feecheck ...` works too.

Each module of this package contributes its commands through a COMMANDS list.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from feecheck import create_app
from feecheck.cli import check, imports, setup


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """feecheck: kindergarten fee compliance checker."""


for module in (setup, imports, check):
    for command in module.COMMANDS:
        main.add_command(command)
