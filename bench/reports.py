"""Time the monthly PDF reports: one kindergarten's (goal < 0.2 s) and a 500-kindergarten region
batch (`feecheck report --each`), on SQLite or, with --pg, PostgreSQL.

    .venv/bin/python bench/reports.py [--kindergartens 500] [--pg postgresql+psycopg://…/DB]

One kindergarten: the demo, its school year checked; the report of one demo kindergarten for
March 2026 is built and rendered five times, with and without the check of the month that a
report runs first (median). The batch: a district of N generated kindergartens (30 children, a
month of care and meal charges, a prohibited item in every fifth one, a funding record each),
checked once for the month, then every report built, rendered and written.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.models import Charge, Child, FeeStandard, FiledAccount, Funding, Kindergarten
from feecheck.models.session import make_engine
from feecheck.services import rules as rules_service
from feecheck.services import schema
from feecheck.services.demo import build_demo, check_demo
from feecheck.services.offices import write_demo_offices
from feecheck.services.reports import ReportOptions, each_pdf, kindergarten_pdf

GOAL_ONE = 0.2
MONTH = Period(2026, 3)
DAY = date(2026, 12, 1)


def fresh(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    schema.upgrade(engine)
    return engine


def one_report(url: str, offices: Path) -> tuple[float, float, int]:
    engine = fresh(url)
    ruleset = rules_service.cached(ROOT / "rules")
    with Session(engine) as session:
        build_demo(session, ruleset.taxonomy)
        session.commit()
        check_demo(session, ruleset, DAY)
        session.commit()
        timings = {}
        for check in (True, False):
            runs = []
            for _ in range(5):
                started = time.perf_counter()
                _report, data = kindergarten_pdf(
                    session, None, ruleset, "K110108004", MONTH, ReportOptions(DAY, offices, check)
                )
                runs.append(time.perf_counter() - started)
            timings[check] = statistics.median(runs)
    engine.dispose()
    return timings[True], timings[False], len(data)


def make_district(session: Session, ruleset, count: int) -> None:  # type: ignore[no-untyped-def]
    classify = ruleset.taxonomy.classify
    for k in range(count):
        kg = Kindergarten(
            code=f"B{k:04d}",
            name=f"基准测试幼儿园{k:04d}",
            region_code="110108",
            category=("public", "inclusive_private", "nonprofit_private", "forprofit_private")[
                k % 4
            ],
            grade="grade1",
        )
        kg.filed_accounts = [FiledAccount(account_no="6222000000000001")]
        session.add(kg)
        session.flush()
        for item, amount in (("保教费", "800.00"), ("伙食费", "450.00")):
            session.add(
                FeeStandard(
                    kindergarten_id=kg.id,
                    fee_item=item,
                    item_category=classify(item),
                    amount=Decimal(amount),
                    unit="month",
                    effective_from=date(2024, 9, 1),
                )
            )
        children = [
            Child(
                kindergarten_id=kg.id,
                child_ref=f"C{c:03d}",
                enrolled_on=date(2024, 9, 1),
                birth_date=date(2021, 1 + c % 12, 1),
                hardship="none",
            )
            for c in range(30)
        ]
        session.add_all(children)
        session.flush()
        for child in children:
            for item, amount in (("保教费", "800.00"), ("伙食费", "450.00")):
                session.add(
                    Charge(
                        kindergarten_id=kg.id,
                        child_id=child.id,
                        receipt_no=f"{child.child_ref}-{item}",
                        fee_item=item,
                        item_category=classify(item),
                        amount=Decimal(amount),
                        period_start=MONTH.first_day,
                        period_end=MONTH.last_day,
                        paid_on=MONTH.first_day,
                        account="6222000000000001",
                    )
                )
        if k % 5 == 0:
            session.add(
                Charge(
                    kindergarten_id=kg.id,
                    child_id=children[0].id,
                    receipt_no="X-1",
                    fee_item="兴趣班费",
                    item_category=classify("兴趣班费"),
                    amount=Decimal("300.00"),
                    period_start=MONTH.first_day,
                    period_end=MONTH.last_day,
                    paid_on=MONTH.first_day,
                    account="6222000000000001",
                )
            )
        session.add(
            Funding(
                kindergarten_id=kg.id,
                reference=f"F{k}",
                source="per_child_public_expense",
                amount=Decimal("18000.00"),
                period_start=date(2026, 1, 1),
                period_end=date(2026, 12, 31),
                received_on=date(2026, 1, 10),
            )
        )
    session.commit()


def batch(url: str, offices: Path, count: int, folder: Path) -> tuple[float, float, int]:
    engine = fresh(url)
    ruleset = rules_service.cached(ROOT / "rules")
    with Session(engine) as session:
        make_district(session, ruleset, count)
        started = time.perf_counter()
        written = each_pdf(
            session, None, ruleset, "110108", MONTH, ReportOptions(DAY, offices), folder
        )
        total = time.perf_counter() - started
    engine.dispose()
    size = sum(p.stat().st_size for p in written)
    return total, total / max(len(written), 1), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kindergartens", type=int, default=500)
    parser.add_argument("--pg", help="a PostgreSQL URL (its public schema is wiped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        offices = Path(work) / "offices.yaml"
        write_demo_offices(offices)
        targets = [("SQLite", f"sqlite:///{Path(work) / 'bench.db'}")]
        if args.pg:
            targets.append(("PostgreSQL", args.pg))
        for label, url in targets:
            with_check, without, size = one_report(url, offices)
            print(f"\n{label}")
            print(
                f"one kindergarten report, check of the month included: {with_check:.3f} s "
                f"(goal < {GOAL_ONE} s) {'ok' if with_check < GOAL_ONE else 'SLOW'}"
            )
            print(f"one kindergarten report, stored findings (as in a batch): {without:.3f} s")
            print(f"PDF size: {size / 1024:.0f} KiB")
            total, each, size = batch(
                url.replace("bench.db", "batch.db"),
                offices,
                args.kindergartens,
                Path(work) / f"each-{label}",
            )
            print(
                f"region batch, {args.kindergartens} kindergartens (check once + every report): "
                f"{total:.1f} s, {each:.3f} s per report, {size / 1024 / 1024:.1f} MiB written"
            )


if __name__ == "__main__":
    main()
