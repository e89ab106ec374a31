"""Benchmark: charge rows from CSV into SQLite and PostgreSQL (1,000,000 UTF-8 rows by default).

Compares the real import service (feecheck.services.importing.run_import: encoding check,
header mapping, parse_cells validation, reference resolution, upsert by natural key, batch
record) with raw baselines on the same rows and the same schema (migrated by Alembic, so the
natural-key unique index and the other indexes are there too):
- raw SQLite: csv.reader -> typed tuples -> sqlite3 executemany in 10,000-row chunks;
- raw PostgreSQL: csv.reader -> typed tuples -> psycopg COPY.
Every path runs in a fresh Python process; peak memory is that process's max RSS. Both the raw
paths and the import decode the file in its encoding (--encoding gb18030 writes it GB18030, as
Excel saves a Chinese CSV; the import detects that itself, as `feecheck import` does).

    .venv/bin/python bench/import_charges.py [--rows N] [--encoding utf-8|gb18030] [--repeat N]
        [--pg URL] [--skip-pg] [--json PATH]

The goal of issue 16 is measured with 200,000 GB18030 rows, three runs each, medians:

    .venv/bin/python bench/import_charges.py --rows 200000 --encoding gb18030 --repeat 3 \
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/feecheck_bench_imp --json out.json

--json writes {"rows": [{"work", "value" (rows/s), "unit", "floor" (the raw path's rows/s),
"floor_name", "ratio", "goal", "peak_mib" (the import process's max RSS)}, ...]}, one entry per
database for the import of new rows, and one for importing the same file again.

Files go to bench/out/ (ignored by git). The PostgreSQL database is created and dropped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
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


FILE_ENCODINGS = {"utf-8": "utf-8-sig", "gb18030": "gb18030"}  # what the file is written in


def generate(path: Path, rows: int, encoding: str = "utf-8") -> None:
    rng = random.Random(7)
    start = date(2025, 9, 1)
    with path.open("w", encoding=FILE_ENCODINGS[encoding], newline="") as f:
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


def _file_encoding(path: Path) -> str:
    with path.open("rb") as f:
        return "utf-8-sig" if f.read(3) == b"\xef\xbb\xbf" else "gb18030"


def _typed_rows(path: Path, kg_ids: dict[str, int], child_ids: dict[tuple[int, str], int], fen):  # type: ignore[no-untyped-def]
    """What a hand-written loader would do: decode, csv.reader, look ids up, convert the cells."""
    with path.open(encoding=_file_encoding(path), newline="") as f:
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
    problems = []  # as the command line does: errors streamed, progress after every chunk
    report = run_import(
        session,
        "charges",
        path,
        taxonomy=load_taxonomy(APP_ROOT / "rules"),
        file_name=path.name,
        progress=lambda done, expected: None,
        on_error=problems.append,
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


def median_run(kind: str, url: str, path: Path, fresh: bool, repeat: int) -> dict[str, float]:
    """The run with the median time of `repeat` runs, each on a freshly prepared database when
    `fresh`; a re-import's first run follows the import just measured, the others an import of
    their own."""
    runs = []
    for n in range(repeat):
        if not fresh and n:
            run("service", url, path, fresh=True)
        runs.append(run(kind, url, path, fresh=fresh))
    runs.sort(key=lambda figures: figures["seconds"])
    return runs[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--encoding", choices=list(FILE_ENCODINGS), default="utf-8")
    parser.add_argument("--repeat", type=int, default=1, help="runs per path; the median counts")
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
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
    suffix = "" if args.encoding == "utf-8" else f"-{args.encoding}"
    path = OUT / f"charges-{args.rows}{suffix}.csv"
    if not path.exists():
        print(f"generating {path.name} …", flush=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        generate(partial, args.rows, args.encoding)
        partial.replace(path)
    written = "UTF-8 with BOM" if args.encoding == "utf-8" else "GB18030"
    print(f"{args.rows:,} charge rows, {path.stat().st_size / 1e6:.1f} MB ({written})")
    sqlite_db = OUT / f"bench-{os.getpid()}.db"  # its own, should another bench run meanwhile
    sqlite_url = f"sqlite:///{sqlite_db}"
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
            figures = median_run(kind, url, path, fresh, args.repeat)
            rate = figures["rows"] / figures["seconds"]
            results.append((database, label, figures, rate))
            print(
                f"{database:10} {label:36} {figures['seconds']:7.1f} s {rate:>10,.0f} rows/s"
                f" {figures['peak_mib']:7.0f} MiB peak",
                flush=True,
            )
    finally:
        sqlite_db.unlink(missing_ok=True)
        if not args.skip_pg:
            _drop_pg(args.pg)
    entries = []
    for database, floor_name in (("SQLite", "sqlite3 executemany"), ("PostgreSQL", "COPY")):
        found = [(label, figures, rate) for d, label, figures, rate in results if d == database]
        if len(found) < 2:
            continue
        floor = found[0][2]
        print(f"{database}: import at {found[1][2] / floor:.0%} of the raw path")
        for (_label, figures, rate), again in ((found[1], False), (found[2], True)):
            work = (
                f"import charges {args.rows:,} {written.split()[0]} rows"
                + (" again, unchanged" if again else "")
                + f" ({database})"
            )
            entries.append(
                {
                    "work": work,
                    "value": round(rate, 1),
                    "unit": "rows/s",
                    "floor": round(floor, 1),
                    "floor_name": floor_name,
                    "ratio": round(rate / floor, 3),
                    "goal": None if again else ">= 0.5",
                    "peak_mib": round(figures["peak_mib"], 1),
                    "runs": args.repeat,
                }
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": entries}, ensure_ascii=False, indent=2))
        print(f"figures written to {args.json}")


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
