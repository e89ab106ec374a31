"""`feecheck check` and `feecheck rules list|test|lint`."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from feecheck.cli.common import fail
from feecheck.domain.money import format_money
from feecheck.domain.periods import Period
from feecheck.engine.cases import case_files, run_cases
from feecheck.engine.findings import FindingResult, show
from feecheck.engine.loader import RulesError, load_ruleset
from feecheck.engine.params import ParameterResolver
from feecheck.engine.specs import Ruleset
from feecheck.extensions import db
from feecheck.services.checking import CheckError, CheckOutcome, Scope, run_check

EXIT_VIOLATIONS = 3


def _ruleset() -> Ruleset:
    try:
        return load_ruleset(Path(current_app.config["RULES_DIR"]))
    except RulesError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        fail(f"rules/ has {len(exc.problems)} problem(s); nothing was checked")


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        fail(str(exc))


@click.command("check")
@click.option("--period", "period_from", required=True, help="First month, YYYY-MM.")
@click.option("--to", "period_to", help="Last month, YYYY-MM (default: --period).")
@click.option("--kindergarten", "kindergarten_code", help="Only this kindergarten (code).")
@click.option("--region", "region_code", help="Only this region (6-digit district/city/province).")
@click.option("--format", "output", type=click.Choice(["text", "json", "csv"]), default="text")
@click.option("--as-of", "as_of", help="Judge as on this date (YYYY-MM-DD); default today.")
@click.option("--explain", is_flag=True, help="Show records -> figures -> parameters -> outcome.")
@with_appcontext
def check_command(
    period_from: str,
    period_to: str | None,
    kindergarten_code: str | None,
    region_code: str | None,
    output: str,
    as_of: str | None,
    explain: bool,
) -> None:
    """Run every rule for each month in the range, store the findings, print them.

    Exit status 0: no violations; 3: violations found; 2: the check could not run.
    """
    first = _period(period_from)
    last = _period(period_to) if period_to else first
    if last < first:
        fail(f"--to {last} is before --period {first}")
    try:
        judged_on = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        fail(f"--as-of must be YYYY-MM-DD, not {as_of!r}")
    ruleset = _ruleset()
    started = time.perf_counter()
    scope = Scope(first, last, region_code, kindergarten_code)
    session = db.session
    try:
        outcome = run_check(session, ruleset, scope, judged_on)
    except (CheckError, ValueError) as exc:
        session.rollback()
        fail(str(exc))
    session.commit()
    elapsed = time.perf_counter() - started
    if output == "json":
        _print_json(outcome, scope, ruleset, explain)
    elif output == "csv":
        _print_csv(outcome.findings)
    else:
        _print_text(outcome, scope, ruleset, explain, elapsed)
    if any(f.severity == "violation" for f in outcome.findings):
        sys.exit(EXIT_VIOLATIONS)


def _print_json(outcome: CheckOutcome, scope: Scope, ruleset: Ruleset, explain: bool) -> None:
    document = {
        "periods": [str(p) for p in scope.periods],
        "ruleset": ruleset.hash,
        "findings": [f.to_json(explain) for f in _sorted(outcome.findings)],
    }
    click.echo(json.dumps(document, ensure_ascii=False, indent=1))


def _print_csv(findings: list[FindingResult]) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(
        [
            "rule_id",
            "severity",
            "period",
            "kindergarten_code",
            "child_ref",
            "citation",
            "message",
            "message_en",
            "amount_due",
            "evidence",
        ]
    )
    for f in _sorted(findings):
        writer.writerow(
            [
                f.rule.id,
                f.severity,
                f.period,
                f.kindergarten_code,
                f.child_ref or "",
                f.citation,
                f.message_zh,
                f.message_en,
                format_money(f.amount_due),
                json.dumps(f.evidence, ensure_ascii=False),
            ]
        )


def _sorted(findings: list[FindingResult]) -> list[FindingResult]:
    return sorted(
        findings, key=lambda f: (f.kindergarten_code, f.period, f.rule.id, f.child_ref or "", f.key)
    )


def _print_text(
    outcome: CheckOutcome, scope: Scope, ruleset: Ruleset, explain: bool, elapsed: float
) -> None:
    by_kg: dict[str, list[FindingResult]] = defaultdict(list)
    for finding in _sorted(outcome.findings):
        by_kg[finding.kindergarten_code].append(finding)
    months = f"{scope.period_from}" + (
        f" .. {scope.period_to}" if scope.period_to != scope.period_from else ""
    )
    click.echo(
        f"检查期间 / periods {months} · 规则集 / ruleset {ruleset.short_hash} · "
        f"{len(outcome.kindergartens)} 所幼儿园 / kindergartens"
    )
    totals: dict[str, int] = defaultdict(int)
    refund_total = Decimal(0)
    for code, findings in by_kg.items():
        kg = outcome.kindergartens[code]
        click.echo(f"\n{code} {kg.name} ({kg.region_code}, {kg.category})")
        counts: dict[str, int] = defaultdict(int)
        refunds = Decimal(0)
        for f in findings:
            counts[f.severity] += 1
            refunds += f.amount_due or 0
            child = f" {f.child_ref}" if f.child_ref else ""
            click.echo(f"  {f.period} {f.severity:9} {f.rule.id}{child}: {f.message_zh}")
            if explain:
                for step in f.explanation:
                    click.echo(f"      · {step['zh']}\n        {step['en']}")
        for severity, n in counts.items():
            totals[severity] += n
        refund_total += refunds
        click.echo(f"  小计 / subtotal: {_counts(counts)}; 应退 / refunds due {refunds:.2f}")
    clean = len(outcome.kindergartens) - len(by_kg)
    click.echo(
        f"\n合计 / total: {_counts(totals)} in {len(by_kg)} kindergartens "
        f"({clean} without findings); 应退 / refunds due {refund_total:.2f}"
    )
    click.echo(
        f"stored: {outcome.created} new, {outcome.updated} kept, {outcome.removed} "
        f"resolved · {elapsed:.2f} s"
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in ("violation", "warning", "info"))


@click.group("rules", cls=AppGroup)
def rules_group() -> None:
    """The rules in rules/: list, test, lint."""


@rules_group.command("lint")
def rules_lint_command() -> None:
    """Load and lint rules/ (schema, citations, kinds, dates, overlays, aliases)."""
    ruleset = _ruleset()
    locals_ = sum(len(o.values) for o in ruleset.overlays.values())
    click.echo(
        f"rules/ is fine: {len(ruleset.rules)} rules, {len(ruleset.params)} parameters, "
        f"{len(ruleset.overlays)} overlays ({locals_} local values), "
        f"{len(ruleset.taxonomy.categories)} fee-item categories; "
        f"ruleset {ruleset.short_hash}"
    )


@rules_group.command("list")
@click.option("--region", "region_code", help="Show what applies in this district/city/province.")
@click.option("--on", "on", help="Date the parameters are read on (default today).")
def rules_list_command(region_code: str | None, on: str | None) -> None:
    """List the rules in force: id, title, citation, and (with --region) each parameter's layer."""
    ruleset = _ruleset()
    day = date.fromisoformat(on) if on else date.today()
    resolver = ParameterResolver(ruleset, region_code) if region_code else None
    for rule in sorted(ruleset.rules.values(), key=lambda r: r.id):
        status = "in force" if rule.in_force(day) else f"from {rule.in_force_from}"
        if resolver is not None:
            if rule.requires_any and not any(
                all(resolver.resolve(n, day) for n in group) for group in rule.requires_any
            ):
                status = "skipped here (local parameter not set)"
            elif rule.in_force(day):
                status = "active"
        verified = "" if rule.citation.verified else " [citation unverified]"
        click.echo(
            f"{rule.id:32} {rule.severity:9} {status}\n    {rule.title['zh']} / "
            f"{rule.title['en']}\n    {rule.citation.short()}{verified}  ({rule.source})"
        )
        if resolver is None:
            continue
        for name in rule.params:
            value = resolver.resolve(name, day)
            if value is None:
                click.echo(f"      {name} = (not set)")
                continue
            flags = ("" if value.verified else " [unverified]") + (
                " [feecheck default, not law]" if value.default_not_law else ""
            )
            click.echo(
                f"      {name} = {_param_text(value.value)}  ← {value.layer} {value.source}{flags}"
            )


def _param_text(value: Any) -> str:
    shown = show(value)
    return ", ".join(shown) if isinstance(shown, list) else str(shown)


@rules_group.command("test")
@click.option("-v", "--verbose", is_flag=True, help="Print every case, not only failures.")
def rules_test_command(verbose: bool) -> None:
    """Run the YAML rule cases in rules/cases/."""
    ruleset = _ruleset()
    rules_dir = Path(current_app.config["RULES_DIR"])
    if not case_files(rules_dir):
        fail("no case files in rules/cases/")
    passed = failed = 0
    for result in run_cases(rules_dir, ruleset):
        if result.passed:
            passed += 1
            if verbose:
                click.echo(f"ok    {result.rule}: {result.name}")
        else:
            failed += 1
            click.echo(f"FAIL  {result.file} {result.rule}: {result.name}")
            for problem in result.problems:
                click.echo(f"      {problem}")
    missing = sorted(set(ruleset.rules) - {p.stem.upper() for p in case_files(rules_dir)})
    for rule_id in missing:
        click.echo(f"FAIL  {rule_id}: no case file")
    click.echo(f"{passed} passed, {failed + len(missing)} failed")
    if failed or missing:
        sys.exit(1)


COMMANDS = [check_command, rules_group]
