"""Benchmark: 1,000,000 charge rows from CSV into SQLite and PostgreSQL.

Compares the real import service (feecheck.services.importing.run_import: encoding check,
header mapping, parse_cells validation, reference resolution, upsert by natural key, batch
record) with raw baselines on the same rows and the same schema (migrated by Alembic, so the
natural-key unique index and the other indexes are there too):
- raw SQLite: csv.reader -> typed tuples -> sqlite3 executemany in 10,000-row chunks;
- raw PostgreSQL: csv.reader -> typed tuples -> psycopg COPY.
Every path runs in a fresh Python process; peak memory is that process's max RSS.

    .venv/bin/python bench/import_charges.py [--rows N] [--pg URL] [--skip-pg]

Files go to bench/out/ (ignored by git). The PostgreSQL database is created and dropped.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
KINDERGARTENS = 500
CHILDREN_PER_KG = 200
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/feecheck_bench"
HEADER = [
    "receipt_no",
    "kindergarten_code",
    "child_ref",
    "fee_item",
    "amount",
    "period_start",
    "period_end",
    "paid_on",
    "account",
    "collector",
]
ITEMS = ["保育教育费", "伙食费", "住宿费", "代办费（园服）", "保教费"]


def generate(path: Path, rows: int) -> None:
    rng = random.Random(7)
    start = date(2025, 9, 1)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(HEADER)
        for n in range(rows):
            kg = n % KINDERGARTENS
            child = rng.randrange(CHILDREN_PER_KG)
            month = start + timedelta(days=31 * (n // (KINDERGARTENS * 40) % 10))
            first = month.replace(day=1)
            writer.writerow(
                [
                    f"R{n:08d}",
                    f"K{kg:04d}",
                    f"C{child:04d}",
                    ITEMS[n % len(ITEMS)],
                    f"{rng.randrange(100, 500000) / 100:.2f}",
                    first.isoformat(),
                    (first + timedelta(days=27)).isoformat(),
                    first.isoformat(),
                    f"6222{kg:012d}",
                    "kindergarten",
                ]
            )


def prepare(url: str) -> None:
    """A fresh schema with the kindergartens and children the charges refer to."""
    from sqlalchemy import insert, text

    from feecheck.models import Child, Kindergarten
    from feecheck.models.session import make_engine
    from feecheck.services import schema

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(Kindergarten),
            [
                {
                    "code": f"K{k:04d}",
                    "name": f"幼儿园{k}",
                    "region_code": "110108",
                    "category": "public",
                    "boarding": False,
                }
                for k in range(KINDERGARTENS)
            ],
        )
        connection.execute(
            insert(Child),
            [
                {
                    "kindergarten_id": k + 1,
                    "child_ref": f"C{c:04d}",
                    "enrolled_on": date(2024, 9, 1),
                    "hardship": "none",
                    "boarding": False,
                }
                for k in range(KINDERGARTENS)
                for c in range(CHILDREN_PER_KG)
            ],
        )
    engine.dispose()


def _typed_rows(path: Path, kg_ids: dict[str, int], child_ids: dict[tuple[int, str], int], fen):  # type: ignore[no-untyped-def]
    """What a hand-written loader would do: csv.reader, look ids up, convert the cells."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for receipt, code, ref, item, amount, p_start, p_end, paid, account, collector in reader:
            kg = kg_ids[code]
            yield (
                kg,
                child_ids[(kg, ref)],
                receipt,
                item,
                "care_education",
                fen(amount),
                p_start,
                p_end,
                paid,
                account,
                collector,
            )


COLUMNS = (
    "kindergarten_id, child_id, receipt_no, fee_item, item_category, amount, "
    "period_start, period_end, paid_on, account, collector"
)


def raw_sqlite(url: str, path: Path) -> int:
    database = url.removeprefix("sqlite:///")
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA foreign_keys=ON")  # as the app's engine does
    connection.execute("PRAGMA synchronous=NORMAL")
    kg_ids = dict(connection.execute("SELECT code, id FROM kindergartens"))
    child_ids = {
        (kg, ref): id_
        for kg, ref, id_ in connection.execute(
            "SELECT kindergarten_id, child_ref, id FROM children"
        )
    }
    sql = f"INSERT INTO charges ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    rows = _typed_rows(path, kg_ids, child_ids, lambda a: round(float(a) * 100))
    count = 0
    connection.execute("BEGIN")
    while True:
        chunk = [row for _, row in zip(range(10000), rows, strict=False)]
        if not chunk:
            break
        connection.executemany(sql, chunk)
        count += len(chunk)
    connection.execute("COMMIT")
    connection.close()
    return count


def raw_copy(url: str, path: Path) -> int:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        kg_ids = dict(connection.execute("SELECT code, id FROM kindergartens").fetchall())
        child_ids = {
            (kg, ref): id_
            for kg, ref, id_ in connection.execute(
                "SELECT kindergarten_id, child_ref, id FROM children"
            ).fetchall()
        }
        count = 0
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY charges ({COLUMNS}) FROM STDIN") as copy,
        ):
            for row in _typed_rows(path, kg_ids, child_ids, lambda a: a):
                copy.write_row(row)
                count += 1
    return count


def service(url: str, path: Path) -> int:
    from feecheck.config import ROOT as APP_ROOT
    from feecheck.engine.taxonomy import load_taxonomy
    from feecheck.models.session import make_engine, make_session_factory
    from feecheck.services.importing import run_import

    engine = make_engine(url)
    session = make_session_factory(engine)()
    report = run_import(
        session, "charges", path, taxonomy=load_taxonomy(APP_ROOT / "rules"), file_name=path.name
    )
    assert report.status == "committed", (report.status, report.message, report.error_lines()[:3])
    assert report.rejected == 0, report.error_lines()[:3]
    session.close()
    engine.dispose()
    return report.created + report.unchanged + report.updated


PATHS = {"raw-sqlite": raw_sqlite, "raw-copy": raw_copy, "service": service}


def child(kind: str, url: str, path: Path) -> None:
    """Run one path in this (fresh) process and print its figures as JSON."""
    started = time.perf_counter()
    rows = PATHS[kind](url, path)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak}))


def run(kind: str, url: str, path: Path, fresh: bool = True) -> dict[str, float]:
    if fresh:  # in its own process, so that the measured process's peak is the import's alone
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        subprocess.run([sys.executable, __file__, "--prepare", url], check=True)
    command = [sys.executable, __file__, "--child", kind, "--url", url, "--file", str(path)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--child", choices=list(PATHS))
    parser.add_argument("--url")
    parser.add_argument("--file")
    parser.add_argument("--prepare", metavar="URL")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare)
        return
    if args.child:
        child(args.child, args.url, Path(args.file))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"charges-{args.rows}.csv"
    if not path.exists():
        print(f"generating {path.name} …", flush=True)
        generate(path, args.rows)
    print(f"{args.rows:,} charge rows, {path.stat().st_size / 1e6:.1f} MB (UTF-8 with BOM)")
    sqlite_url = f"sqlite:///{OUT / 'bench.db'}"
    plans = [
        ("SQLite", "raw sqlite3 executemany", "raw-sqlite", sqlite_url, True),
        ("SQLite", "feecheck import (new rows)", "service", sqlite_url, True),
        ("SQLite", "feecheck import again (unchanged)", "service", sqlite_url, False),
    ]
    if not args.skip_pg:
        _create_pg(args.pg)
        plans += [
            ("PostgreSQL", "raw psycopg COPY", "raw-copy", args.pg, True),
            ("PostgreSQL", "feecheck import (new rows)", "service", args.pg, True),
            ("PostgreSQL", "feecheck import again (unchanged)", "service", args.pg, False),
        ]
    results = []
    try:
        for database, label, kind, url, fresh in plans:
            figures = run(kind, url, path, fresh)
            rate = figures["rows"] / figures["seconds"]
            results.append((database, label, figures, rate))
            print(
                f"{database:10} {label:36} {figures['seconds']:7.1f} s {rate:>10,.0f} rows/s"
                f" {figures['peak_mib']:7.0f} MiB peak",
                flush=True,
            )
    finally:
        if not args.skip_pg:
            _drop_pg(args.pg)
    for database in ("SQLite", "PostgreSQL"):
        rates = [r for d, _, _, r in results if d == database]
        if len(rates) >= 2:
            print(f"{database}: import at {rates[1] / rates[0]:.0%} of the raw path")


def _admin(url: str, sql: str) -> None:
    import psycopg

    server = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(sql)


def _create_pg(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{name}"')


def _drop_pg(url: str) -> None:
    _admin(url, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
