"""`feecheck report` and `feecheck notice`: the monthly PDF reports and the notice to correct."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from feecheck.cli.check import _period, load_rules
from feecheck.cli.common import fail
from feecheck.domain.reasons import Refused
from feecheck.domain.regions import validate_region_code
from feecheck.extensions import db
from feecheck.pdf.documents import Inspector
from feecheck.services import notices, reports
from feecheck.services.scope import NotFound


def _day(text: str | None) -> date:
    """The day a document is made: printed on it, and the as-of date of the check before it."""
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--date must be YYYY-MM-DD, not {text!r}")


def _options(day: date, check: bool = True) -> reports.ReportOptions:
    return reports.ReportOptions(day, Path(current_app.config["OFFICES_FILE"]), check)


@click.command("report")
@click.option("--period", "period_text", required=True, help="The month, YYYY-MM.")
@click.option("--kindergarten", "kindergarten_code", help="One kindergarten's report (code).")
@click.option("--region", "region_code", help="A region's report (6-digit code).")
@click.option(
    "--each", is_flag=True, help="With --region: every kindergarten's report, into -o DIR."
)
@click.option("--with-details", is_flag=True, help="With --region: append each kindergarten's.")
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="FILE.pdf or DIR/."
)
@click.option("--date", "day_text", help="The day printed as made on (default: today).")
@with_appcontext
def report_command(
    period_text: str,
    kindergarten_code: str | None,
    region_code: str | None,
    each: bool,
    with_details: bool,
    output: Path,
    day_text: str | None,
) -> None:
    """Write the monthly compliance report PDF of a kindergarten or a region (the month is
    checked first, so the report shows current findings)."""
    if bool(kindergarten_code) == bool(region_code):
        fail("give --kindergarten CODE or --region CODE (one of them)")
    if (each or with_details) and not region_code:
        fail("--each and --with-details go with --region")
    if region_code:
        try:
            validate_region_code(region_code)
        except ValueError as exc:
            fail(str(exc))
    period = _period(period_text)
    day = _day(day_text)
    ruleset = load_rules()
    session = db.session
    try:
        if kindergarten_code:
            report, data = reports.kindergarten_pdf(
                session, None, ruleset, kindergarten_code, period, _options(day)
            )
            _write(output, data)
            click.echo(
                f"{output}: {report.name} ({report.code}) {period}, {len(report.findings)} "
                f"findings, {len(data):,} bytes"
            )
        elif each:
            with tqdm(unit="report", disable=None) as bar:

                def progress(done: int, total: int) -> None:
                    bar.total = total
                    bar.update(done - bar.n)

                written = reports.each_pdf(
                    session,
                    None,
                    ruleset,
                    region_code or "",
                    period,
                    _options(day),
                    output,
                    progress,
                )
            click.echo(f"{output}: {len(written)} kindergarten reports for {period}")
        else:
            report, data = reports.region_pdf(
                session, None, ruleset, region_code or "", period, _options(day), with_details
            )
            _write(output, data)
            click.echo(
                f"{output}: region {region_code} {period}, {report.kindergartens} kindergartens, "
                f"{report.violations} open violations, {len(data):,} bytes"
            )
    except NotFound:
        session.rollback()
        fail(f"unknown kindergarten {kindergarten_code}")
    except Refused as exc:
        session.rollback()
        fail(exc.en)


@click.command("notice")
@click.option("--period", "period_text", required=True, help="First month, YYYY-MM.")
@click.option("--to", "period_to_text", help="Last month, YYYY-MM (default: --period).")
@click.option("--kindergarten", "kindergarten_code", required=True, help="The kindergarten (code).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="FILE.pdf")
@click.option(
    "--inspector",
    "inspectors",
    multiple=True,
    help="NAME:CERTIFICATE of an inspector who signs (twice for two; blank lines otherwise).",
)
@click.option("--date", "day_text", help="The day the notice is issued (default: today).")
@with_appcontext
def notice_command(
    period_text: str,
    period_to_text: str | None,
    kindergarten_code: str,
    output: Path,
    inspectors: tuple[str, ...],
    day_text: str | None,
) -> None:
    """Issue a numbered notice to correct (整改通知书) for the kindergarten's open violations in
    the months (checked first), record it on those findings, and write its PDF."""
    period_from = _period(period_text)
    period_to = _period(period_to_text) if period_to_text else period_from
    day = _day(day_text)
    signers = []
    for text in inspectors:
        name, _, certificate = text.partition(":")
        if not name.strip():
            fail(f"--inspector takes NAME:CERTIFICATE, not {text!r}")
        signers.append(Inspector(name.strip()[:50], certificate.strip()[:50]))
    ruleset = load_rules()
    session = db.session
    try:
        notice, document = notices.issue_notice(
            session,
            None,
            ruleset,
            kindergarten_code,
            period_from,
            period_to,
            day,
            signers,
            Path(current_app.config["OFFICES_FILE"]),
        )
        data = notices.notice_pdf(document)
        _write(output, data)  # written before the number is kept: no number without its paper
        session.commit()
    except NotFound:
        session.rollback()
        fail(f"unknown kindergarten {kindergarten_code}")
    except Refused as exc:
        session.rollback()
        fail(exc.en)
    click.echo(
        f"{output}: notice {notice.number} to {kindergarten_code}, {len(document.violations)} "
        f"violations, {document.refunds_outstanding:,.2f} yuan to refund, due {notice.deadline}"
    )


def _write(output: Path, data: bytes) -> None:
    if output.is_dir():
        fail(f"{output} is a folder: give a file name ending in .pdf")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)


COMMANDS = [report_command, notice_command]
