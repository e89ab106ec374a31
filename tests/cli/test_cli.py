from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.cli import main
from feecheck.extensions import db
from feecheck.models import AuditEntry, Child, Kindergarten, User
from feecheck.services import schema


def _session(runner: FlaskCliRunner) -> Session:
    return db.new_session(runner.app)


def test_init_reports_the_head_revision(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert f"revision {schema.head_revision()}" in result.output


def test_demo_fills_then_refuses(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["demo", "--seed", "11"])
    assert result.exit_code == 0, result.output
    assert "kindergartens 17" in result.output
    session = _session(runner)
    assert session.scalar(select(func.count()).select_from(Child)) >= 400
    again = runner.invoke(main, ["demo"])
    assert again.exit_code == 2
    assert "already holds kindergartens" in again.output
    assert session.scalar(select(func.count()).select_from(Kindergarten)) == 17


def test_demo_on_a_new_machine_creates_the_schema_first(tmp_path: Path) -> None:
    """`feecheck demo` is the first command of the README's walk-through: no `init` before it."""
    env = dict(os.environ, FEECHECK_DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}")
    env["FEECHECK_INSTANCE"] = str(tmp_path / "instance")
    feecheck = Path(sys.executable).with_name("feecheck")
    done = subprocess.run([feecheck, "demo"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "kindergartens 17" in done.stdout


def test_user_add_hashes_the_password_and_audits(runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        main,
        ["user", "add", "wang", "--role", "inspector", "--region", "110108", "--password-stdin"],
        input="a long password\n",
    )
    assert result.exit_code == 0, result.output
    user = _session(runner).scalars(select(User).where(User.username == "wang")).one()
    assert user.password_hash.startswith("$argon2")
    assert "a long password" not in user.password_hash
    assert (
        _session(runner).scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.table_name == "users", AuditEntry.record_key == "wang")
        )
        == 1
    )


def test_user_add_refuses_bad_input(runner: FlaskCliRunner) -> None:
    short = runner.invoke(
        main, ["user", "add", "li", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 2 and "at least 8" in short.output
    region = runner.invoke(
        main,
        ["user", "add", "li", "--role", "inspector", "--region", "1101", "--password-stdin"],
        input="long enough\n",
    )
    assert region.exit_code == 2 and "6-digit" in region.output
    no_region = runner.invoke(
        main,
        ["user", "add", "li", "--role", "inspector", "--password-stdin"],
        input="long enough\n",
    )
    assert no_region.exit_code == 2 and "--region" in no_region.output


def test_quickstart_sets_up_without_serving(runner: FlaskCliRunner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner.app.instance_path = str(tmp_path)
    result = runner.invoke(main, ["quickstart", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "user admin" in result.output and "user haidian" in result.output
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert _session(runner).scalar(select(func.count()).select_from(Kindergarten)) == 17
    again = runner.invoke(main, ["quickstart", "--no-serve"])
    assert again.exit_code == 0
    assert _session(runner).scalar(select(func.count()).select_from(User)) == 6
