"""Setting up: init, demo, user add, quickstart."""

from __future__ import annotations

import secrets
import sys
import time
from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select
from werkzeug.serving import run_simple

from feecheck.cli.common import fail as _fail
from feecheck.config import ensure_instance_secret
from feecheck.domain.categories import Role
from feecheck.engine.taxonomy import load_taxonomy
from feecheck.extensions import db
from feecheck.models import Kindergarten, User
from feecheck.services import rules as rules_service
from feecheck.services import schema
from feecheck.services.audit import Actor
from feecheck.services.demo import DemoError, build_demo, check_demo
from feecheck.services.jobs import fail_stale_work
from feecheck.services.offices import write_demo_offices
from feecheck.services.users import UserError, create_user


def _bind(app: Flask):  # type: ignore[no-untyped-def]
    """The engine (or, in tests, the connection) migrations run on."""
    return db.engine(app) or app.config["DATABASE_BIND"]


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the schema to the newest migration."""
    schema.upgrade(_bind(current_app))
    click.echo(f"database at revision {schema.head_revision()}")


@click.command("demo")
@with_appcontext
@click.option("--seed", default=2025, show_default=True, help="Random seed; same seed, same data.")
def demo_command(seed: int) -> None:
    """Fill an empty database with realistic demo data (every rule id has a seeded case).

    Creates or upgrades the schema first, as `init` does.
    """
    schema.upgrade(_bind(current_app))
    started = time.perf_counter()
    session = db.session
    try:
        counts = build_demo(session, load_taxonomy(current_app.config["RULES_DIR"]), seed)
    except DemoError as exc:
        session.rollback()
        _fail(str(exc))
    session.commit()
    summary = ", ".join(f"{name} {n}" for name, n in counts.items())
    click.echo(f"demo data written in {time.perf_counter() - started:.1f} s: {summary}")
    found = check_demo(session, rules_service.cached(current_app.config["RULES_DIR"]), date.today())
    session.commit()
    click.echo(f"the demo school year checked: {found} findings stored")
    if write_demo_offices(Path(current_app.config["OFFICES_FILE"])):
        click.echo(
            f"the demo districts' issuing offices written to {current_app.config['OFFICES_FILE']}"
        )


@click.group("user", cls=AppGroup)
def user_group() -> None:
    """Manage users."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(Role.values()), required=True)
@click.option("--region", "region_code", help="6-digit region code the user is scoped to.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add_command(name: str, role: str, region_code: str | None, password_stdin: bool) -> None:
    """Create a user (the password is asked, or read with --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        create_user(db.session, name, password, role, region_code, Actor("cli"))
    except (UserError, ValueError) as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    scope = region_code or "all regions"
    click.echo(f"user {name} created ({role}, {scope})")


@click.command("quickstart")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Set up only; do not start the web server.")
def quickstart_command(host: str, port: int, no_serve: bool) -> None:
    """init + demo (if the database is empty) + demo logins + start the web server."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    secret_file = ensure_instance_secret(Path(app.instance_path))
    app.config["SECRET_KEY"] = secret_file.read_text().strip()
    schema.upgrade(_bind(app))
    session = db.session
    if not session.scalar(select(func.count()).select_from(Kindergarten)):
        click.echo("writing demo data …")
        build_demo(session, load_taxonomy(app.config["RULES_DIR"]))
        session.commit()
        found = check_demo(session, rules_service.cached(app.config["RULES_DIR"]), date.today())
        session.commit()
        click.echo(f"the demo school year checked: {found} findings stored")
        write_demo_offices(Path(app.config["OFFICES_FILE"]))
    logins = _demo_logins(app)
    failed = fail_stale_work(session)  # jobs and imports left running by a stopped server
    if failed:
        click.echo(f"{failed} job(s) or import(s) left running by a stopped process marked failed")
    click.echo(f"\nfeecheck is ready: http://{host}:{port}/")
    for line in logins:
        click.echo(f"  {line}")
    click.echo(f"(logins are also saved in {Path(app.instance_path) / 'demo-logins.txt'})")
    if not no_serve:
        # Flask ignores app.run() inside a CLI command; werkzeug's server is what it would use.
        run_simple(host, port, app, use_reloader=False, threaded=True)


def _demo_logins(app: Flask) -> list[str]:
    """Create an admin and one inspector per demo district, once, with random passwords."""
    logins_file = Path(app.instance_path) / "demo-logins.txt"
    session = db.session
    if session.scalar(select(func.count()).select_from(User)):
        if logins_file.exists():
            return logins_file.read_text(encoding="utf-8").splitlines()
        return ["users exist already; create more with `feecheck user add`"]
    lines = []
    for name, role, region in (
        ("admin", "admin", None),
        ("haidian", "inspector", "110108"),
        ("xuhui", "inspector", "310104"),
        ("lixia", "inspector", "370102"),
        ("kuiwen", "inspector", "370705"),
        ("jinghu", "inspector", "340202"),
    ):
        password = secrets.token_urlsafe(9)
        create_user(session, name, password, role, region, Actor("quickstart"))
        lines.append(f"user {name:8} password {password}  ({role}, {region or 'all regions'})")
    session.commit()
    logins_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logins_file.chmod(0o600)
    return lines


COMMANDS = [init_command, demo_command, user_group, quickstart_command]
