"""feecheck ledger (what kindergartens owe families) and feecheck follow-up (复查 and 销号)."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext

from feecheck.cli.common import (
    FORMATS,
    fail,
    format_option,
    output_format,
    output_option,
    output_path,
    workbook_stdout,
)
from feecheck.domain.categories import FollowUpOutcome, RefundState
from feecheck.domain.reasons import Refused
from feecheck.extensions import db
from feecheck.models import Notice
from feecheck.services import ledger as ledger_service
from feecheck.services.exporting import write_csv
from feecheck.services.rectification import ledger_for, record_follow_up
from feecheck.services.scope import NotFound


def _day(text: str | None, option: str) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be YYYY-MM-DD, not {text!r}")


def _text(book: ledger_service.Ledger) -> str:
    lines = [f"应退台账 / refund ledger as of {book.as_of}"]
    header = ("state", "kindergarten", "child", "receipt", "due", "refunded", "outstanding")
    widths = (16, 14, 10, 16, 11, 11, 12)
    lines.append(" ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " rules")
    for item in book.items:
        cells = (
            item.state,
            item.kindergarten_code,
            item.child_ref,
            item.receipt_no,
            f"{item.due:.2f}",
            f"{item.refunded_towards:.2f}",
            f"{item.outstanding:.2f}",
        )
        notice = f" · {item.notice_no} due {item.deadline}" if item.notice_no else ""
        lines.append(
            " ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
            + " "
            + ",".join(item.rule_ids)
            + notice
        )
    counts = ", ".join(f"{state} {n}" for state, n in book.by_state().items() if n)
    totals = book.totals
    lines.append(
        f"合计 / total: {len(book.items)} items ({counts or 'none'}); 应退 due {totals.due:.2f}, "
        f"已退 refunded {totals.refunded:.2f}, 未退 outstanding {totals.outstanding:.2f}"
    )
    return "\n".join(lines) + "\n"


@click.command("ledger")
@click.option("--region", "region_code", help="Only this region (6-digit district/city/province).")
@click.option("--kindergarten", "kindergarten_code", help="Only this kindergarten (code).")
@click.option("--as-of", "as_of", help="Refunds recorded up to this date count (default today).")
@click.option(
    "--state",
    type=click.Choice(RefundState.values()),
    help="Only the items in this state (the totals follow).",
)
@format_option()
@output_option()
@with_appcontext
def ledger_command(
    region_code: str | None,
    kindergarten_code: str | None,
    as_of: str | None,
    state: str | None,
    output: str | None,
    path: Path | None,
) -> None:
    """The refund-due ledger: per receipt, what each kindergarten owes families, refunded,
    outstanding, and the notice that demanded it. Overdue items first."""
    if region_code and kindergarten_code:
        fail("give --region or --kindergarten, not both")
    output = output_format(output, path, FORMATS)
    output_path(path)
    when = _day(as_of, "--as-of")
    try:
        book, _ = ledger_for(
            db.session,
            None,
            when,
            region_code=region_code,
            kindergarten_code=kindergarten_code,
            state=state,
        )
    except NotFound:
        fail(f"no kindergarten {kindergarten_code!r}")
    except ValueError as exc:
        fail(str(exc))
    if output == "xlsx":
        data = ledger_service.xlsx(book)
        if path is None:
            workbook_stdout().write(data)
            return
        path.write_bytes(data)
        click.echo(f"{path}: {len(book.items)} items", err=True)
        return
    if output == "json":
        text = json.dumps(book.as_json(), ensure_ascii=False, indent=1) + "\n"
    elif output == "csv":
        buffer = io.StringIO()
        write_csv(
            buffer,
            list(ledger_service.COLUMNS),
            ([str(c) for c in r] for r in ledger_service.table(book)),
        )
        text = buffer.getvalue()
    else:
        text = _text(book)
    if path is None:
        click.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")
        click.echo(f"{path}: {len(book.items)} items", err=True)


@click.command("follow-up")
@click.argument("number")
@click.option("--on", "on", help="The follow-up's date (YYYY-MM-DD, default today).")
@click.option("--inspector", required=True, help="Who followed up.")
@click.option("--outcome", type=click.Choice(FollowUpOutcome.values()), required=True)
@click.option("--notes", help="What was seen.")
@click.option(
    "--close", is_flag=True, help="Close the notice (销号): refused while anything is left."
)
@with_appcontext
def follow_up_command(
    number: str, on: str | None, inspector: str, outcome: str, notes: str | None, close: bool
) -> None:
    """Record a follow-up inspection (复查) of the notice NUMBER, e.g. 海教收整〔2026〕12号."""
    session = db.session
    notice = session.query(Notice).filter(Notice.number == number).one_or_none()
    if notice is None:
        fail(f"no notice numbered {number!r}")
    today = date.today()
    try:
        state = record_follow_up(
            session,
            None,
            notice.id,
            followed_up_on=_day(on, "--on"),
            inspector=inspector,
            outcome=outcome,
            notes=notes,
            close=close,
            today=today,
        )
        session.commit()
    except Refused as exc:
        session.rollback()
        fail(exc.text)
    totals = state.totals
    click.echo(
        f"{notice.number}: follow-up recorded ({outcome}); notice {state.status}; "
        f"refunds due {totals.due:.2f}, outstanding {totals.outstanding:.2f}"
    )


COMMANDS = [ledger_command, follow_up_command]
