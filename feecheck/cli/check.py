"""`feecheck check`."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from feecheck.cli.common import fail
from feecheck.domain.periods import DATE_MAX, DATE_MIN, Period
from feecheck.domain.reasons import Refused
from feecheck.engine.specs import Ruleset
from feecheck.extensions import db
from feecheck.services import rules
from feecheck.services.checking import CheckError, CheckOutcome, Scope, run_check
from feecheck.services.exporting import write_csv
from feecheck.services.locks import FINDINGS, busy, is_busy
from feecheck.services.reporting import (
    CSV_COLUMNS,
    CheckSummary,
    check_document,
    csv_rows,
    summarise,
)

EXIT_VIOLATIONS = 3


def load_rules() -> Ruleset:
    """The app's ruleset, or one line per problem and exit 2."""
    try:
        return rules.load(Path(current_app.config["RULES_DIR"]))
    except rules.RulesError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        fail(f"rules/ has {len(exc.problems)} problem(s); nothing was checked")


def _period(text: str) -> Period:
    try:
        period = Period.parse(text)
    except ValueError as exc:
        fail(str(exc))
    if not DATE_MIN <= period.first_day <= DATE_MAX:
        fail(f"{text}: feecheck checks months from {DATE_MIN:%Y-%m} to {DATE_MAX:%Y-%m}")
    return period


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
    ruleset = load_rules()
    started = time.perf_counter()
    scope = Scope(first, last, region_code, kindergarten_code)
    session = db.session
    try:
        outcome = run_check(session, ruleset, scope, judged_on)
        session.commit()
    except Refused as exc:
        session.rollback()
        fail(exc.text)
    except (CheckError, ValueError) as exc:
        session.rollback()
        fail(str(exc))
    except SQLAlchemyError as exc:
        session.rollback()
        if is_busy(exc):
            fail(busy(FINDINGS).text)
        fail(f"database error, nothing was stored: {str(exc).splitlines()[0][:300]}")
    elapsed = time.perf_counter() - started
    summary = summarise(outcome, scope, ruleset)
    if output == "json":
        _print_json(summary, explain)
    elif output == "csv":
        _print_csv(summary)
    else:
        _print_text(summary, outcome, scope, explain, elapsed)
    if summary.has_violations:
        sys.exit(EXIT_VIOLATIONS)


def _print_json(summary: CheckSummary, explain: bool) -> None:
    click.echo(json.dumps(check_document(summary, explain), ensure_ascii=False, indent=1))


def _print_csv(summary: CheckSummary) -> None:
    write_csv(sys.stdout, CSV_COLUMNS, csv_rows(summary), escape=True)
    for skipped in summary.not_evaluated:  # one row per finding on stdout; the rest on stderr
        rule = f" {skipped['rule_id']}" if skipped.get("rule_id") else ""
        click.echo(f"not evaluated: {skipped['period']}{rule}: {skipped['reason']}", err=True)


def _print_text(
    summary: CheckSummary, outcome: CheckOutcome, scope: Scope, explain: bool, elapsed: float
) -> None:
    months = f"{scope.period_from}" + (
        f" .. {scope.period_to}" if scope.period_to != scope.period_from else ""
    )
    click.echo(
        f"检查期间 / periods {months} · 规则集 / ruleset {summary.ruleset_hash[:12]} · "
        f"{summary.kindergartens_checked} 所幼儿园 / kindergartens"
    )
    for skipped in summary.not_evaluated:
        rule = f" {skipped['rule_id']}" if skipped.get("rule_id") else ""
        click.echo(
            f"未检查 / not evaluated: {skipped['period']}{rule}: "
            f"{skipped['reason_zh']} / {skipped['reason']}"
        )
    for group in summary.groups:
        click.echo(f"\n{group.code} {group.name} ({group.region_code}, {group.category})")
        for f in group.findings:
            child = f" {f.child_ref}" if f.child_ref else ""
            click.echo(f"  {f.period} {f.severity:9} {f.rule.id}{child}: {f.message_zh}")
            if explain:
                for step in f.explanation:
                    click.echo(f"      · {step['zh']}\n        {step['en']}")
        click.echo(
            f"  小计 / subtotal: {group.counts.text()}; "
            f"应退 / refunds due {group.counts.refunds_due:.2f}"
        )
    evaluated = "" if not summary.not_evaluated else " in the months evaluated"
    if not summary.evaluated_periods:
        click.echo("\n没有检查任何月份 / no month was evaluated (see above)")
        return
    click.echo(
        f"\n合计 / total: {summary.totals.text()} in {len(summary.groups)} kindergartens "
        f"({summary.clean} without findings{evaluated}); "
        f"应退 / refunds due {summary.totals.refunds_due:.2f}"
    )
    click.echo(
        f"stored: {outcome.created} new, {outcome.updated} kept, {outcome.reopened} reopened, "
        f"{outcome.resolved} resolved · run {outcome.run.id} · {elapsed:.2f} s"
    )


COMMANDS = [check_command]
