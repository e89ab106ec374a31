"""Time the refund ledger of a region: every receipt a finding orders refunded, netted, with its
refunds and notice, on SQLite or, with --pg, PostgreSQL.

    .venv/bin/python bench/ledger.py [--kindergartens 500] [--pg postgresql+psycopg://…/DB]

The region is bench/reports.py's district (N kindergartens, 30 children each, a month of care and
meal charges, a prohibited item in every fifth kindergarten) with an absence of every child in
that month, so the next month's check finds a meal-fee shortfall on every meal receipt, and a
refund of half of it for every third child. The floor it is compared with, measured in the same
run: loading the same findings and refunds with one SQL query each, nothing netted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reports import MONTH, fresh, make_district

from feecheck.config import ROOT
from feecheck.models import Absence, Charge, Child, Finding, Refund
from feecheck.services import rules as rules_service
from feecheck.services.checking import Scope, run_check
from feecheck.services.rectification import ledger_for

AS_OF = date(2026, 12, 1)
GOAL_PER_ITEM_MS = 0.5


def build(url: str, count: int):  # type: ignore[no-untyped-def]
    engine = fresh(url)
    ruleset = rules_service.cached(ROOT / "rules")
    with Session(engine) as session:
        make_district(session, ruleset, count)
        children = session.execute(select(Child.id, Child.kindergarten_id)).all()
        session.add_all(
            Absence(
                kindergarten_id=kg_id,
                child_id=child_id,
                month=str(MONTH),
                days_absent=5,
                days_open=22,
            )
            for child_id, kg_id in children
        )
        session.commit()
        started = time.perf_counter()
        run_check(session, ruleset, Scope(MONTH, MONTH.shift(1), region_code="110108"), AS_OF)
        session.commit()
        check = time.perf_counter() - started
        meals = session.execute(
            select(Charge.id, Charge.kindergarten_id, Charge.child_id).where(
                Charge.item_category == "meals"
            )
        ).all()
        session.add_all(
            Refund(
                kindergarten_id=kg_id,
                charge_id=charge_id,
                refund_no=f"RF{charge_id}",
                amount=Decimal("50.00"),
                refunded_on=date(2026, 5, 10),
            )
            for charge_id, kg_id, child_id in meals
            if child_id % 3 == 0
        )
        session.commit()
    return engine, check


def measure(engine) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        runs, floors = [], []
        for _ in range(3):
            started = time.perf_counter()
            book, _ = ledger_for(session, None, AS_OF, region_code="110108")
            runs.append(time.perf_counter() - started)
            session.expunge_all()
            started = time.perf_counter()
            session.execute(
                select(Finding.id, Finding.rule_id, Finding.evidence, Finding.amount_due).where(
                    Finding.amount_due.is_not(None)
                )
            ).all()
            session.execute(
                select(Refund.charge_id, func.sum(Refund.amount)).group_by(Refund.charge_id)
            ).all()
            floors.append(time.perf_counter() - started)
        claims = session.scalar(select(func.count()).where(Finding.amount_due.is_not(None)))
    return statistics.median(runs), statistics.median(floors), len(book.items), claims or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kindergartens", type=int, default=500)
    parser.add_argument("--pg", help="a PostgreSQL URL (its public schema is wiped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        targets = [("SQLite", f"sqlite:///{Path(work) / 'ledger.db'}")]
        if args.pg:
            targets.append(("PostgreSQL", args.pg))
        for label, url in targets:
            engine, check = build(url, args.kindergartens)
            ledger, floor, items, claims = measure(engine)
            engine.dispose()
            per_item = ledger / max(items, 1) * 1000
            print(f"\n{label}: {args.kindergartens} kindergartens, {claims} findings that claim")
            print(f"check of two months (to make the findings): {check:.1f} s")
            verdict = "ok" if per_item < GOAL_PER_ITEM_MS else "SLOW"
            print(
                f"ledger of the region: {ledger:.2f} s for {items} items, {per_item:.3f} ms per "
                f"item (goal < {GOAL_PER_ITEM_MS} ms) {verdict}"
            )
            print(f"floor, the same rows read with two plain queries: {floor:.2f} s")


if __name__ == "__main__":
    main()
