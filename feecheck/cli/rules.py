"""`feecheck rules list|test|lint`."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from feecheck.cli.check import load_rules
from feecheck.cli.common import fail
from feecheck.services import rules


@click.group("rules", cls=AppGroup)
def rules_group() -> None:
    """The rules in rules/: list, test, lint."""


@rules_group.command("lint")
def rules_lint_command() -> None:
    """Load and lint rules/ (schema, citations, kinds, dates, overlays, aliases, sources)."""
    ruleset = load_rules()
    click.echo(rules.lint_summary(ruleset))
    unverified = rules.unverified_values(ruleset)
    click.echo(
        f"{len(unverified)} unverified values (nobody could source them: they can only ever give "
        "warnings):"
    )
    for line in unverified:
        click.echo(f"  {line}")


@rules_group.command("list")
@click.option("--region", "region_code", help="Show what applies in this district/city/province.")
@click.option("--on", "on", help="Date the parameters are read on (default today).")
def rules_list_command(region_code: str | None, on: str | None) -> None:
    """List the rules in force: id, title, citation, and (with --region) each parameter's layer."""
    try:
        day = date.fromisoformat(on) if on else date.today()
    except ValueError:
        fail(f"--on must be a date YYYY-MM-DD, not {on!r}")
    ruleset = load_rules()
    try:
        lines = rules.rules_in_force(ruleset, day, region_code)
    except ValueError:
        fail(f"--region must be a 6-digit region code, not {region_code!r}")
    for line in lines:
        rule = line.rule
        verified = "" if rule.citation.verified else " [citation unverified]"
        click.echo(
            f"{rule.id:32} {rule.severity:9} {line.status}\n    {rule.title['zh']} / "
            f"{rule.title['en']}\n    {rule.citation.short()}{verified}  ({rule.source})"
        )
        for parameter in line.parameters:
            if parameter.value is None:
                click.echo(f"      {parameter.name} = (not set)")
                continue
            value = parameter.value
            flags = "".join(f" [{flag}]" for flag in parameter.flags)
            click.echo(
                f"      {parameter.name} = {parameter.text}  ← {value.layer} {value.source}{flags}"
            )
            if region_code is not None and value.layer != "national":
                click.echo(f"          {value.reference}")


@rules_group.command("test")
@click.option("-v", "--verbose", is_flag=True, help="Print every case, not only failures.")
def rules_test_command(verbose: bool) -> None:
    """Run the YAML rule cases in rules/cases/."""
    ruleset = load_rules()
    rules_dir = Path(current_app.config["RULES_DIR"])
    if not rules.has_cases(rules_dir):
        fail("no case files in rules/cases/")
    passed = failed = 0
    for result in rules.case_results(rules_dir, ruleset):
        if result.passed:
            passed += 1
            if verbose:
                click.echo(f"ok    {result.rule}: {result.name}")
        else:
            failed += 1
            click.echo(f"FAIL  {result.file} {result.rule}: {result.name}")
            for problem in result.problems:
                click.echo(f"      {problem}")
    missing = rules.missing_cases(rules_dir, ruleset)
    for rule_id in missing:
        click.echo(f"FAIL  {rule_id}: no case file")
    click.echo(f"{passed} passed, {failed + len(missing)} failed")
    if failed or missing:
        sys.exit(1)


COMMANDS = [rules_group]
