"""`feecheck check`."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from feecheck.cli.common import (
    FORMATS,
    fail,
    format_option,
    output_format,
    output_option,
    output_path,
    workbook_stdout,
)
from feecheck.domain.periods import DATE_MAX, DATE_MIN, Period
from feecheck.domain.reasons import Refused
from feecheck.engine.specs import Ruleset
from feecheck.extensions import db
from feecheck.services import jobs, rules
from feecheck.services.check_queue import run_queued_check
from feecheck.services.check_workers import run_parallel_check
from feecheck.services.checking import CheckError, Scope, run_check
from feecheck.services.locks import FINDINGS, busy, is_busy
from feecheck.services.reporting import SEVERITIES, CheckOutput

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
@format_option()
@output_option("Write the findings to this file (xlsx: a workbook) instead of standard output.")
@click.option("--as-of", "as_of", help="Judge as on this date (YYYY-MM-DD); default today.")
@click.option("--explain", is_flag=True, help="Show records -> figures -> parameters -> outcome.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes that check batches of kindergartens at once (default: CHECK_WORKERS, 1).",
)
@click.option(
    "--queue",
    is_flag=True,
    help="Enqueue the batches as jobs (FEECHECK_JOBS_RUNNER=rq: `feecheck worker` processes on "
    "any machine run them) and print the totals; the findings stay in the database.",
)
@with_appcontext
def check_command(
    period_from: str,
    period_to: str | None,
    kindergarten_code: str | None,
    region_code: str | None,
    output: str | None,
    path: Path | None,
    as_of: str | None,
    explain: bool,
    workers: int | None,
    queue: bool,
) -> None:
    """Run every rule for each month in the range, store the findings, print them.

    --format xlsx writes a workbook (the CSV's columns on a first sheet, totals on a second) to
    -o FILE or to standard output when it is not a terminal.

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
    output = output_format(output, path, FORMATS)
    if explain and output in ("csv", "xlsx"):
        fail(
            f"--explain 只用于 text 和 json 格式 / --explain adds its chains to text and json "
            f"output, not to {output}"
        )
    target: Any = None
    if output == "xlsx" and path is None and not queue:
        target = workbook_stdout()  # refused on a terminal before anything is checked
    output_path(path)
    ruleset = load_rules()
    workers = workers or int(current_app.config.get("CHECK_WORKERS") or 1)
    started = time.perf_counter()
    scope = Scope(first, last, region_code, kindergarten_code)
    session = db.session
    if queue:
        if output != "text" or explain or path is not None:
            fail(
                "--queue prints totals only: the findings of a queued check stay in the "
                "database (see them on the findings page, or check without --queue)"
            )
        _queued(scope, ruleset, judged_on, started)
        return
    # The output is written batch by batch into a spooled file (memory up to 16 MiB, then disk;
    # a workbook's rows into openpyxl's temporary files) and printed once the findings are
    # stored: a check that fails prints no findings.
    with tempfile.SpooledTemporaryFile(16 << 20, mode="w+", encoding="utf-8", newline="") as spool:
        printer = CheckOutput(None if output == "xlsx" else spool, output, scope, ruleset, explain)
        with _stopping_cleanly(session, spread=workers > 1):
            if workers > 1:
                outcome = run_parallel_check(
                    session,
                    ruleset,
                    Path(current_app.config["RULES_DIR"]),
                    scope,
                    judged_on,
                    workers=workers,
                    sink=printer,
                )
            else:
                outcome = run_check(session, ruleset, scope, judged_on, sink=printer)
            session.commit()
        printer.finish()
        try:
            if output == "xlsx":
                printer.save(path if path is not None else target)
            else:
                spool.seek(0)
                if path is None:
                    shutil.copyfileobj(spool, sys.stdout)
                else:
                    with path.open("w", encoding="utf-8", newline="") as out:
                        shutil.copyfileobj(spool, out)
        except OSError as exc:
            fail(
                f"无法写入 / cannot write {path or 'standard output'} "
                f"(the findings are stored): {exc}"
            )
    elapsed = time.perf_counter() - started
    if path is not None:
        click.echo(f"{path}: {printer.totals.text()}", err=True)
    if output in ("csv", "xlsx"):  # one row per finding in the file; the rest on stderr
        for skipped in printer.not_evaluated:
            rule = f" {skipped['rule_id']}" if skipped.get("rule_id") else ""
            click.echo(f"not evaluated: {skipped['period']}{rule}: {skipped['reason']}", err=True)
    elif output == "text" and printer.evaluated_periods:
        click.echo(
            f"stored: {outcome.created} new, {outcome.updated} kept, {outcome.reopened} reopened, "
            f"{outcome.resolved} resolved · run {outcome.run.id} · {elapsed:.2f} s"
        )
    if printer.has_violations:
        sys.exit(EXIT_VIOLATIONS)


@contextmanager
def _stopping_cleanly(session: Any, spread: bool) -> Iterator[None]:
    """Roll back and stop with one line (exit 2) when the check is refused, fails or the database
    refuses it. A spread check (workers, queue) keeps the batches it committed before."""
    try:
        yield
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
        kept = "the batches committed before it stay stored" if spread else "nothing was stored"
        fail(f"database error, {kept}: {str(exc).splitlines()[0][:300]}")


def _queued(scope: Scope, ruleset: Ruleset, as_of: date, started: float) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runner = jobs.make_runner(app.config, lambda: db.new_session(app))
    session = db.session

    def progress(done: int, total: int) -> None:
        click.echo(f"\r{done}/{total} batches stored", nl=False, err=True)

    with _stopping_cleanly(session, spread=True):
        outcome = run_queued_check(
            session,
            ruleset,
            Path(app.config["RULES_DIR"]),
            scope,
            as_of,
            runner,
            on_progress=progress,
        )
        session.commit()
    click.echo("", err=True)
    severities = ", ".join(f"{outcome.by_severity.get(s, 0)} {s}" for s in SEVERITIES)
    click.echo(
        f"合计 / total: {severities} in {outcome.with_findings} kindergartens "
        f"({outcome.checked - outcome.with_findings} without findings) · "
        f"{len(outcome.jobs)} jobs ({runner.name}); 应退 / refunds due {outcome.refunds_due:.2f}"
    )
    counts = outcome.counts
    click.echo(
        f"stored: {counts.created} new, {counts.updated} kept, {counts.reopened} reopened, "
        f"{counts.resolved} resolved · run {outcome.run.id} · "
        f"{time.perf_counter() - started:.2f} s"
    )
    if outcome.has_violations:
        sys.exit(EXIT_VIOLATIONS)


COMMANDS = [check_command]
