"""A realistic region of N kindergartens x M children x a school year (2025-09..2026-08), written
straight to the database in bulk.

    .venv/bin/python bench/generate_region.py --url URL --kindergartens N --children M
        [--seed 7] [--violating-share 0.2] [--manifest PATH]

Every kindergarten is one of the demo's plans (feecheck/services/demo: five real districts whose
local rules exist in rules/regions/, every category) with a code of its own and M children; its
school year comes from the demo's generator (school_year.school_year), which keeps every rule.
A known share of the kindergartens (--violating-share, spread evenly) take the demo plans that
break rules, in turn, and the demo's seeders (seeders.SEEDERS) break those rules there; the others
take any plan, made clean. So a region of at least 10 / share kindergartens holds every rule id
broken at least once, and the manifest says where ({code: [rule ids seeded]}, [] = clean).

Records are written below the ORM and the import service: ids are handed out here, references
(kindergarten_code, child_ref, receipt_no) resolved in memory, item_category classified with the
taxonomy, then executemany in chunks of 10,000 rows on SQLite and COPY on PostgreSQL (as
feecheck/services/bulk.py does), 50 kindergartens at a time, so memory stays bounded whatever N.

The URL's database is prepared as bench/import_charges.py does: on PostgreSQL the public schema is
dropped and created again; then the schema is migrated. A SQLite database must hold no
kindergartens yet. On PostgreSQL the load ends with ANALYZE (counted in the seconds), as the
planner needs after a bulk load. Prints rows per table, seconds and the peak memory (max RSS).

Importable (bench/ on sys.path): generate_region(url, kindergartens, children, seed=7,
violating_share=0.2) -> {"rows": {table: n}, "seconds": s, "seeded": {code: [rule ids]}}; and
write_region(connection, ...) writes into a connection the caller owns (no commit: the tests
write into a transaction they roll back).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import resource
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Date, Table, func, select, text

from feecheck.config import ROOT
from feecheck.domain.money import to_fen
from feecheck.domain.periods import Period
from feecheck.engine.taxonomy import load_taxonomy
from feecheck.models import (
    Absence,
    Charge,
    Child,
    FeeStandard,
    FiledAccount,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
)
from feecheck.models.base import utcnow
from feecheck.models.session import make_engine
from feecheck.models.types import Money
from feecheck.services import schema
from feecheck.services.bulk import copy_rows
from feecheck.services.demo.data import DemoChild, DemoData
from feecheck.services.demo.plans import AUTUMN, PLANS, KindergartenPlan
from feecheck.services.demo.school_year import MEAL_REFUND_REASON, school_year
from feecheck.services.demo.seeders import SEEDERS, Seed

__all__ = ["generate_region", "kindergarten_year", "region_plans", "write_region"]

BATCH = 50  # kindergartens generated, converted and written at a time
CHUNK = 10_000  # rows per executemany on SQLite

# The tables in the order they are written (parents first), with their models.
TABLES: dict[str, Table] = {
    model.__tablename__: model.__table__  # type: ignore[misc]
    for model in (
        Kindergarten,
        FiledAccount,
        Child,
        FeeStandard,
        Charge,
        Funding,
        Refund,
        Absence,
        Inspection,
    )
}

VIOLATING_PLANS = [plan for plan in PLANS if plan.violations]

# What a clean kindergarten of a violating plan changes besides dropping its violations: the
# violations a plan breaks by its very numbers, not by a seeder. K370102002's care fee (950 a month)
# is above Jinan's cap for an inclusive grade-1 kindergarten (520 x 1.20 = 624,
# rules/regions/370100.yaml): INCLUSIVE-FEE-CAP's seeder adds nothing.
CLEAN_CARE_FEE = {"INCLUSIVE-FEE-CAP": Decimal("600.00")}


def is_violating(index: int, share: Fraction) -> bool:
    """Kindergarten `index` breaks rules: floor((i + 1) * share) > floor(i * share), so that any
    first n kindergartens hold floor(n * share) violating ones, evenly spread."""
    return int((index + 1) * share) > int(index * share)


def clean(plan: KindergartenPlan) -> KindergartenPlan:
    changes: dict[str, Any] = {"violations": ()}
    for rule_id, fee in CLEAN_CARE_FEE.items():
        if rule_id in plan.violations:
            changes["care_fee"] = fee
    return dataclasses.replace(plan, **changes)


def plan_for(index: int, children: int, share: Fraction) -> KindergartenPlan:
    """Kindergarten `index` of the region: the j-th violating one takes the j-th violating demo
    plan (in turn), a clean one the demo plan of its index made clean; a code of its own."""
    if is_violating(index, share):
        base = VIOLATING_PLANS[int(index * share) % len(VIOLATING_PLANS)]
    else:
        base = clean(PLANS[index % len(PLANS)])
    # The demo derives receipts, refunds and funding references from the code's last 6
    # characters, filed accounts from characters 1-6 (the region) and the last 3: all stay
    # unique within the kindergarten, which is all the natural keys ask.
    return dataclasses.replace(
        base,
        code=f"{base.code}-{index:06d}",  # 17 characters (at most 32)
        name=f"{base.name}（{index + 1}）",
        children=children,
    )


def kindergarten_year(plan: KindergartenPlan, rng: random.Random) -> DemoData:
    """One kindergarten's compliant school year, then the plan's violations seeded."""
    unknown = set(plan.violations) - set(SEEDERS)
    if unknown:
        raise ValueError(f"{plan.code}: no seeder for {sorted(unknown)}")
    data = DemoData()
    children = school_year(data, plan, rng)
    seed = Seed(data, plan, children)
    if "FEE-PREPAY" in plan.violations and plan.care_unit == "month":
        _attends_every_day(seed, seed.other, plan.attendance_billed_months, AUTUMN)
    for rule_id, seed_rule in SEEDERS.items():  # in the order the demo applies them
        if rule_id in plan.violations:
            seed_rule(seed)
    return data


def _attends_every_day(
    kg: Seed, child: DemoChild, months: frozenset[int], span: tuple[date, date]
) -> None:
    """No absences for `child` (nor their meal refunds) in the months of `span` whose care fee is
    billed by the days attended (Shanghai's holiday months). FEE-PREPAY's seeder makes the child
    pay a whole semester's care fee at the full monthly rate, which a January with absences
    bills at less: FEE-ABOVE-STANDARD would be found too, by chance (a demo seeder that takes
    the child's attendance for granted)."""
    first, last = span
    absent = {
        a["month"]
        for a in kg.records("absences")
        if a["child_ref"] == child.ref
        and int(a["month"][5:]) in months
        and first <= Period.parse(a["month"]).first_day <= last
    }
    if not absent:
        return
    meals = {
        c["receipt_no"]
        for c in kg.records("charges")
        if c["child_ref"] == child.ref
        and c["fee_item"] == "伙食费"
        and str(Period.of(c["period_start"])) in absent
    }
    kg.drop("absences", lambda a: a["child_ref"] != child.ref or a["month"] not in absent)
    kg.drop(
        "refunds", lambda r: r["receipt_no"] not in meals or r.get("reason") != MEAL_REFUND_REASON
    )


def region_plans(
    kindergartens: int, children: int, seed: int, violating_share: float
) -> Iterator[tuple[KindergartenPlan, random.Random]]:
    """Every kindergarten's plan with its own random generator: deterministic for a seed."""
    if children < 12:
        raise ValueError("at least 12 children a kindergarten (the demo's seeders pick some)")
    share = Fraction(str(violating_share)).limit_denominator(10_000)
    if not 0 <= share <= 1:
        raise ValueError("the violating share is between 0 and 1")
    for index in range(kindergartens):
        yield plan_for(index, children, share), random.Random(seed * 1_000_003 + index)


def _fast_processor(column: Column[Any], dialect: Any) -> Callable[[Any], Any] | None:
    """What SQLite stores for a value (Money as integer fen, dates as ISO text): the dialect's
    own conversion, with short paths for the cells written a million times."""
    if dialect.name == "sqlite":
        if isinstance(column.type, Money):
            return lambda v: None if v is None else to_fen(v)
        if type(column.type) is Date:
            return lambda v: None if v is None else v.isoformat()
        return column.type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]
    return None  # COPY takes Python values (psycopg dumps them)


class RegionWriter:
    """Turns the demo's typed records into table rows with ids, and writes them in bulk."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.postgres = self.dialect.name == "postgresql"
        self.classify = lru_cache(maxsize=4096)(load_taxonomy(ROOT / "rules").classify)
        self.next_id = {
            name: (connection.scalar(select(func.max(table.c.id))) or 0) + 1
            for name, table in TABLES.items()
        }
        self.columns = {name: [c.name for c in table.columns] for name, table in TABLES.items()}
        self.processors = {
            name: [_fast_processor(c, self.dialect) for c in table.columns]
            for name, table in TABLES.items()
        }
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
        self.written = dict.fromkeys(TABLES, 0)
        self.now = utcnow()

    def _add(self, table: str, values: dict[str, Any]) -> int:
        row_id = self.next_id[table]
        self.next_id[table] = row_id + 1
        values["id"] = row_id
        values.setdefault("version", 1)
        self.rows[table].append(tuple([values.get(c) for c in self.columns[table]]))
        return row_id

    def add(self, data: DemoData) -> None:
        """One kindergarten's records (DemoData of one kindergarten) as rows."""
        records = data.records
        (kg,) = records["kindergartens"]
        kg_id = self._add(
            "kindergartens",
            {
                "code": kg["code"],
                "name": kg["name"],
                "region_code": kg["region_code"],
                "category": kg["category"],
                "boarding": kg.get("boarding", False),
                "capacity": kg.get("capacity"),
                "grade": kg.get("grade"),
                "created_at": self.now,
                "updated_at": self.now,
            },
        )
        for account in dict.fromkeys(kg.get("filed_accounts", ())):
            self._add("filed_accounts", {"kindergarten_id": kg_id, "account_no": account})
        children: dict[str, int] = {}
        for r in records["children"]:
            children[r["child_ref"]] = self._add(
                "children",
                {
                    "kindergarten_id": kg_id,
                    "child_ref": r["child_ref"],
                    "name": r.get("name"),
                    "birth_date": r.get("birth_date"),
                    "final_year": r.get("final_year"),
                    "enrolled_on": r["enrolled_on"],
                    "left_on": r.get("left_on"),
                    "boarding": r.get("boarding", False),
                    "hardship": r.get("hardship", "none"),
                },
            )
        for r in records["fee-standards"]:
            self._add(
                "fee_standards",
                {
                    "kindergarten_id": kg_id,
                    "fee_item": r["fee_item"],
                    "item_category": self.classify(r["fee_item"]),
                    "amount": r["amount"],
                    "unit": r["unit"],
                    "effective_from": r["effective_from"],
                    "effective_to": r.get("effective_to"),
                    "approval_ref": r.get("approval_ref"),
                },
            )
        receipts: dict[str, int] = {}
        for r in records["charges"]:
            receipts[r["receipt_no"]] = self._add(
                "charges",
                {
                    "kindergarten_id": kg_id,
                    "child_id": children[r["child_ref"]],
                    "receipt_no": r["receipt_no"],
                    "fee_item": r["fee_item"],
                    "item_category": self.classify(r["fee_item"]),
                    "amount": r["amount"],
                    "period_start": r["period_start"],
                    "period_end": r["period_end"],
                    "paid_on": r["paid_on"],
                    "account": r["account"],
                    "collector": r.get("collector", "kindergarten"),
                },
            )
        for r in records["funding"]:
            self._add("funding", {**r, "kindergarten_id": kg_id})
        for r in records["refunds"]:
            self._add(
                "refunds",
                {
                    "kindergarten_id": kg_id,
                    "charge_id": receipts[r["receipt_no"]],
                    "refund_no": r["refund_no"],
                    "amount": r["amount"],
                    "refunded_on": r["refunded_on"],
                    "reason": r.get("reason"),
                },
            )
        for r in records["absences"]:
            self._add(
                "absences",
                {
                    "kindergarten_id": kg_id,
                    "child_id": children[r["child_ref"]],
                    "month": r["month"],
                    "days_absent": r["days_absent"],
                    "days_open": r["days_open"],
                },
            )
        for r in records["inspections"]:
            self._add(
                "inspections",
                {
                    "kindergarten_id": kg_id,
                    "inspected_on": r["inspected_on"],
                    "inspector": r["inspector"],
                    "fees_disclosed": r["fees_disclosed"],
                    "notes": r.get("notes"),
                },
            )

    def flush(self) -> None:
        """Write the rows gathered so far, parents first, and forget them."""
        for table, rows in self.rows.items():
            if rows:
                self._load(table, rows)
                self.written[table] += len(rows)
                rows.clear()

    def _load(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if self.postgres:
            copy_rows(self.connection, table, self.columns[table], rows)
            return
        quoted = ", ".join(f'"{c}"' for c in self.columns[table])
        convert = [(i, p) for i, p in enumerate(self.processors[table]) if p is not None]
        marks = ", ".join("?" for _ in self.columns[table])
        statement = f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})'
        for start in range(0, len(rows), CHUNK):
            chunk = []
            for row in rows[start : start + CHUNK]:
                cells = list(row)
                for i, process in convert:
                    cells[i] = process(cells[i])
                chunk.append(tuple(cells))
            self.connection.exec_driver_sql(statement, chunk)

    def finish(self) -> None:
        """PostgreSQL: move each id sequence past the ids handed out here."""
        if not self.postgres:
            return
        for table in TABLES:
            self.connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f'(SELECT max(id) FROM "{table}"))'
                    f' WHERE EXISTS (SELECT 1 FROM "{table}")'
                )
            )


def write_region(
    connection: Connection,
    kindergartens: int,
    children: int,
    seed: int = 7,
    violating_share: float = 0.2,
    commit: bool = False,
) -> dict[str, Any]:
    """Generate and write a region into a migrated database through `connection`; with
    `commit`, commit after every batch of kindergartens (else the caller commits or rolls
    back). Returns {"rows": {table: n}, "seeded": {code: [rule ids]}}."""
    writer = RegionWriter(connection)
    seeded: dict[str, list[str]] = {}
    pending = 0
    for plan, rng in region_plans(kindergartens, children, seed, violating_share):
        writer.add(kindergarten_year(plan, rng))
        seeded[plan.code] = [r for r in SEEDERS if r in plan.violations]
        pending += 1
        if pending == BATCH:
            writer.flush()
            pending = 0
            if commit:
                connection.commit()
    writer.flush()
    writer.finish()
    if commit:
        connection.commit()
    return {"rows": dict(writer.written), "seeded": seeded}


def prepare(url: str) -> Any:
    """An engine on a freshly migrated database (PostgreSQL: the public schema wiped first)."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    schema.upgrade(engine)
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(Kindergarten)):
            engine.dispose()
            raise SystemExit(f"{url}: the database already holds kindergartens; give a new one")
    return engine


def generate_region(
    url: str,
    kindergartens: int,
    children: int,
    seed: int = 7,
    violating_share: float = 0.2,
) -> dict[str, Any]:
    """Migrate the database at `url`, generate the region and write it; returns {"rows":
    {table: n}, "seconds": the time to generate and write (schema aside), "seeded": {code:
    [rule ids seeded]} ([] for a clean kindergarten)}."""
    engine = prepare(url)
    try:
        started = time.perf_counter()
        with engine.connect() as connection:
            result = write_region(
                connection, kindergartens, children, seed, violating_share, commit=True
            )
            if engine.dialect.name == "postgresql":  # the planner's statistics, as after a load
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        result["seconds"] = time.perf_counter() - started
    finally:
        engine.dispose()
    return result


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="database URL (PostgreSQL: schema wiped)")
    parser.add_argument("--kindergartens", type=int, required=True)
    parser.add_argument("--children", type=int, required=True, help="per kindergarten")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--violating-share", type=float, default=0.2)
    parser.add_argument("--manifest", type=Path, help="write {code: [rule ids]} and totals here")
    args = parser.parse_args(argv)
    result = generate_region(
        args.url, args.kindergartens, args.children, args.seed, args.violating_share
    )
    peak = peak_mib()
    rows = result["rows"]
    for table, count in rows.items():
        print(f"{table:16} {count:>10,}")
    violating = {code: rules for code, rules in result["seeded"].items() if rules}
    by_rule: dict[str, int] = {}
    for rules in violating.values():
        for rule_id in rules:
            by_rule[rule_id] = by_rule.get(rule_id, 0) + 1
    print(
        f"{'total':16} {sum(rows.values()):>10,} rows in {result['seconds']:.1f} s, "
        f"peak {peak:.0f} MiB; {len(violating)} of {args.kindergartens} kindergartens violating, "
        f"{len(by_rule)} rule ids seeded"
    )
    if args.manifest:
        manifest = {
            "kindergartens": args.kindergartens,
            "children_per_kindergarten": args.children,
            "seed": args.seed,
            "violating_share": args.violating_share,
            "school_year": ["2025-09", "2026-08"],
            "rows": rows,
            "seconds": round(result["seconds"], 2),
            "peak_mib": round(peak, 1),
            "violating": len(violating),
            "clean": args.kindergartens - len(violating),
            "kindergartens_per_rule": dict(sorted(by_rule.items())),
            "seeded": result["seeded"],
        }
        args.manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
