"""`feecheck ledger` and `feecheck follow-up` on the demo year: the ledger adds up, a refund of an
item's outstanding amount settles it, a notice goes from issued to closed."""

from __future__ import annotations

import io
import json
import shlex
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from feecheck.cli import main
from feecheck.extensions import db
from feecheck.models import Notice
from feecheck.services import rectification, workflow
from feecheck.services.demo import SEEDED_CASES
from feecheck.services.exporting import xlsx_bytes
from feecheck.services.ledger import COLUMNS
from tests.factories import make_user

PROHIBITED = SEEDED_CASES["FEE-PROHIBITED-ITEM"][0]
AS_OF = "2026-11-30"


@pytest.fixture
def demo(runner: FlaskCliRunner, tmp_path: Path) -> FlaskCliRunner:
    runner.app.config["OFFICES_FILE"] = tmp_path / "offices.yaml"
    assert runner.invoke(main, ["demo"]).exit_code == 0
    return runner


def _ledger(runner: FlaskCliRunner, args: str = "") -> dict:  # type: ignore[type-arg]
    result = runner.invoke(main, shlex.split(f"ledger --format json --as-of {AS_OF} {args}"))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _refund(runner: FlaskCliRunner, tmp_path: Path, items: list[dict], on: str) -> None:  # type: ignore[type-arg]
    path = tmp_path / f"refunds-{on}.csv"
    lines = ["kindergarten_code,receipt_no,refund_no,amount,refunded_on,child_ref"]
    for n, item in enumerate(items):
        lines.append(
            f"{item['kindergarten_code']},{item['receipt_no']},RF-{on}-{n},"
            f"{item['outstanding']},{on},{item['child_ref']}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["import", "refunds", str(path)])
    assert result.exit_code == 0, result.output


def test_the_ledger_adds_up_and_a_refund_settles_exactly_its_item(
    demo: FlaskCliRunner, tmp_path: Path
) -> None:
    book = _ledger(demo)
    assert set(book) == {"as_of", "items", "totals"} and book["as_of"] == AS_OF
    assert len(book["items"]) > 10
    for name in ("due", "refunded", "outstanding"):
        assert sum(Decimal(i[name]) for i in book["items"]) == Decimal(book["totals"][name])
    for item in book["items"]:
        assert list(item) == list(COLUMNS)
        assert Decimal(item["due"]) - Decimal(item["refunded"]) == Decimal(item["outstanding"])
    chosen = book["items"][0]
    _refund(demo, tmp_path, [chosen], AS_OF)
    after = _ledger(demo)
    (same,) = [i for i in after["items"] if i["receipt_no"] == chosen["receipt_no"]]
    assert (same["state"], same["outstanding"]) == ("settled", "0.00")
    assert Decimal(book["totals"]["outstanding"]) - Decimal(
        after["totals"]["outstanding"]
    ) == Decimal(chosen["outstanding"])
    assert _ledger(demo, "--as-of 2026-11-29")["totals"] == book["totals"]  # the day before


def test_csv_xlsx_and_text_say_the_same(demo: FlaskCliRunner, tmp_path: Path) -> None:
    book = _ledger(demo, f"--kindergarten {PROHIBITED}")
    result = demo.invoke(main, shlex.split(f"ledger --format csv --kindergarten {PROHIBITED}"))
    lines = result.output.strip().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == len(book["items"]) + 1
    out = tmp_path / "l.xlsx"
    args = f"ledger --format xlsx --kindergarten {PROHIBITED} --as-of {AS_OF} -o {out}"
    assert demo.invoke(main, shlex.split(args)).exit_code == 0
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0] == COLUMNS and len(rows) == len(book["items"]) + 1
    assert {r[2] for r in rows[1:]} == {i["receipt_no"] for i in book["items"]}
    due = COLUMNS.index("due")  # amounts are numbers in a workbook
    assert all(isinstance(r[due], int | float) for r in rows[1:])
    assert sorted(Decimal(str(r[due])) for r in rows[1:]) == sorted(
        Decimal(i["due"]) for i in book["items"]
    )
    totals = list(load_workbook(out)["totals"].iter_rows(values_only=True))
    assert totals[0] == ("as_of", "kindergarten_code", "items", "due", "refunded", "outstanding")
    assert totals[1][1] == PROHIBITED and totals[-1][1] == "合计 / total"
    assert totals[-1][2] == len(book["items"])
    assert [f"{Decimal(str(v)):.2f}" for v in totals[-1][3:]] == [
        book["totals"][k] for k in ("due", "refunded", "outstanding")
    ]
    text = demo.invoke(main, shlex.split(f"ledger --as-of {AS_OF}")).output
    assert f"未退 outstanding {_ledger(demo)['totals']['outstanding']}" in text
    both = demo.invoke(main, shlex.split(f"ledger --region 110108 --kindergarten {PROHIBITED}"))
    assert both.exit_code == 2 and "not both" in both.output


def test_xlsx_cells_are_escaped_against_formula_injection() -> None:
    data = xlsx_bytes("s", ["a", "b"], [['=HYPERLINK("x")', Decimal("1.50")]])
    sheet = load_workbook(io.BytesIO(data)).active
    # a text cell, never a formula, and the text unchanged (no apostrophe added)
    assert sheet["A2"].value == '=HYPERLINK("x")' and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == 1.5 and sheet["B2"].number_format == "0.00"


def test_a_notice_goes_from_issued_to_closed(demo: FlaskCliRunner, tmp_path: Path) -> None:
    pdf = tmp_path / "n.pdf"
    args = f"notice --period 2025-10 --kindergarten {PROHIBITED} --date 2026-11-01 -o {pdf}"
    assert demo.invoke(main, shlex.split(args)).exit_code == 0, "notice"
    with demo.app.app_context():
        notice = db.session.scalar(select(Notice))
        number, deadline = notice.number, notice.deadline
    items = [i for i in _ledger(demo, f"--kindergarten {PROHIBITED}")["items"] if i["notice_no"]]
    assert items and {(i["notice_no"], i["deadline"]) for i in items} == {
        (number, deadline.isoformat())
    }
    assert {i["state"] for i in items} == {"overdue"}  # 2026-11-30 is past the deadline
    close = f"follow-up {number} --on {AS_OF} --inspector 王 --outcome rectified --close"
    refused = demo.invoke(main, shlex.split(close))
    assert refused.exit_code == 2 and "not yet refunded" in refused.output
    _refund(demo, tmp_path, items, AS_OF)
    with demo.app.app_context():
        supervisor = make_user(db.session, "hd-s", role="supervisor", region_code="110108")
        state = rectification.notice_state(db.session, supervisor, notice.id, date(2026, 11, 30))
        assert not state.unsettled and state.to_correct
        for finding in state.to_correct:
            workflow.move(db.session, supervisor, finding.id, "rectify", "已退费并停止收取")
        db.session.commit()
    check = demo.invoke(main, shlex.split("check --period 2025-10 --as-of 2026-11-30"))
    assert check.exit_code in (0, 3), check.output
    closed = demo.invoke(main, shlex.split(close))
    assert closed.exit_code == 0, closed.output
    assert "notice closed" in closed.output
    settled = [i for i in _ledger(demo)["items"] if i["notice_no"] == number]
    assert settled and {i["state"] for i in settled} == {"settled"}
