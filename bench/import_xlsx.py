"""Benchmark: charge rows from an Excel workbook, next to the CSV import of the same rows.

The rows are bench/import_charges.py's (200,000 by default), written once as CSV (UTF-8) and
once as a workbook with typed cells (dates as date cells, amounts as numbers, as Excel keeps
them), by openpyxl's write-only mode. Every measurement runs in a fresh Python process; peak
memory is that process's max RSS.

1. Reading the sheet, no database: feecheck's reader (services/workbooks.py: zip + expat),
   openpyxl's read-only mode, and python-calamine when it is installed (`pip install
   python-calamine`; it is not a dependency of feecheck).
2. Importing into a fresh SQLite database (the kindergartens and children the rows refer to
   are there): `run_import` of the CSV file (the floor) and of the workbook; with --pg URL,
   into PostgreSQL as well.
3. --big-mb N: a workbook of about N MB (the upload limit is 50 MB), read by each reader and
   imported into SQLite: the reader's and the import's peak memory must not grow with the rows.

    .venv/bin/python bench/import_xlsx.py [--rows 200000] [--repeat 1] [--pg URL] [--big-mb 50]
        [--libreoffice] [--json PATH]

--libreoffice also reads the workbook as LibreOffice Calc saves it (shared strings; needs
`soffice`). Files go to bench/out/ (ignored by git).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
IMPORT_GOAL = 0.5  # the workbook import's rows/s against the CSV import's, at least
MEMORY_GOAL_MIB = 300  # the import's peak, as for CSV (bench/import_charges.py)


def write_workbook(csv_path: Path, path: Path) -> None:
    """The CSV rows as a sheet named 收费记录, cells typed as Excel types them."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("收费记录")
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        sheet.append(next(reader))
        for row in reader:
            row[4] = float(row[4])  # an amount as Excel stores it: a binary float
            for i in (5, 6, 7):
                row[i] = date.fromisoformat(row[i])
            sheet.append(row)
    book.save(path)


def _peak_mib() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries a parent's
    high-water mark across fork and exec into ru_maxrss, so a child started by a parent that
    has just written a large workbook would report the parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_feecheck(path: str) -> dict[str, float]:
    from feecheck.services.workbooks import Workbook

    started, rows = time.perf_counter(), 0
    with Workbook(Path(path)) as book:
        for _ in book.rows(book.sheets[0]):
            rows += 1
    return {"rows": rows, "seconds": time.perf_counter() - started, "peak_mib": _peak_mib()}


def read_openpyxl(path: str) -> dict[str, float]:
    from openpyxl import load_workbook

    started, rows = time.perf_counter(), 0
    book = load_workbook(path, read_only=True, data_only=True)
    for _ in book.worksheets[0].iter_rows(values_only=True):
        rows += 1
    book.close()
    return {"rows": rows, "seconds": time.perf_counter() - started, "peak_mib": _peak_mib()}


def read_calamine(path: str) -> dict[str, float]:
    from python_calamine import CalamineWorkbook

    started, rows = time.perf_counter(), 0
    book = CalamineWorkbook.from_path(path)
    for _ in book.get_sheet_by_index(0).iter_rows():
        rows += 1
    return {"rows": rows, "seconds": time.perf_counter() - started, "peak_mib": _peak_mib()}


def run_import(url: str, record_type: str, path: str) -> dict[str, float]:
    from sqlalchemy.orm import Session

    from feecheck.config import ROOT as APP_ROOT
    from feecheck.engine.taxonomy import load_taxonomy
    from feecheck.models.session import make_engine
    from feecheck.services.importing import run_import as import_file

    engine = make_engine(url)
    taxonomy = load_taxonomy(APP_ROOT / "rules")
    with Session(engine) as session:
        started = time.perf_counter()
        report = import_file(session, record_type, Path(path), taxonomy=taxonomy)
        seconds = time.perf_counter() - started
    assert report.status == "committed" and report.rejected == 0, report.error_lines()[:5]
    return {"rows": report.created, "seconds": seconds, "peak_mib": _peak_mib()}


WORK = {"feecheck": read_feecheck, "openpyxl": read_openpyxl, "calamine": read_calamine}


def _child(*args: str) -> dict[str, float] | None:
    """One measurement in a fresh process (its peak memory is its own)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  ({args[0]} failed: {last})")
        return None
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _line(name: str, figures: dict[str, float], floor: float | None = None) -> str:
    rate = figures["rows"] / figures["seconds"]
    text = f"{name:<46} {rate:>10,.0f} rows/s  {figures['peak_mib']:>7,.0f} MiB peak"
    if floor:
        text += f"  = {rate / floor:.2f}x"
    return text


def _calamine_installed() -> bool:
    return (
        subprocess.run([sys.executable, "-c", "import python_calamine"], check=False).returncode
        == 0
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--pg", help="also import into this PostgreSQL database (dropped first)")
    parser.add_argument("--big-mb", type=int, default=0, help="also read a workbook of ~N MB")
    parser.add_argument("--libreoffice", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work, *rest = args.child
        result = run_import(*rest) if work == "import" else WORK[work](*rest)
        print(json.dumps(result))
        return

    from bench.import_charges import generate, prepare

    OUT.mkdir(parents=True, exist_ok=True)
    csv_path = OUT / f"charges-{args.rows}.csv"
    xlsx_path = OUT / f"charges-{args.rows}.xlsx"
    if not csv_path.exists():
        generate(csv_path, args.rows)
    if not xlsx_path.exists():
        write_workbook(csv_path, xlsx_path)
    print(
        f"{args.rows:,} charge rows: CSV {csv_path.stat().st_size / 1e6:.1f} MB, "
        f"workbook {xlsx_path.stat().st_size / 1e6:.1f} MB"
    )
    results: list[dict[str, object]] = []
    readers = ["feecheck", "openpyxl"] + (["calamine"] if _calamine_installed() else [])
    books = [("openpyxl-written", xlsx_path)]
    if args.libreoffice and shutil.which("soffice"):
        saved = OUT / "libreoffice" / xlsx_path.name
        if not saved.exists():
            convert = ["soffice", "--headless", "--convert-to", "xlsx", "--outdir"]
            subprocess.run([*convert, str(saved.parent), str(xlsx_path)], check=True)
        books.append(("LibreOffice-saved", saved))
    print("\n1. reading the sheet (no database)")
    for label, book in books:
        for reader in readers:
            runs = [r for _ in range(args.repeat) if (r := _child(reader, str(book)))]
            if runs:
                figures = _median(runs)
                print(_line(f"  {reader} ({label})", figures))
                results.append({"work": f"read {label} with {reader}", **figures})
    if not _calamine_installed():
        print("  (python-calamine is not installed: pip install python-calamine to compare)")

    print(f"\n2. importing (goal: >= {IMPORT_GOAL}x the CSV import, < {MEMORY_GOAL_MIB} MiB)")
    databases = [("SQLite", f"sqlite:///{OUT / 'bench-xlsx.db'}")]
    if args.pg:
        databases.append(("PostgreSQL", args.pg))
    for name, url in databases:
        measured = {}
        for kind, path in (("CSV", csv_path), ("xlsx", xlsx_path)):
            runs = []
            for _ in range(args.repeat):
                if url.startswith("sqlite:///"):
                    Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
                prepare(url)
                if (r := _child("import", url, "charges", str(path))) is not None:
                    runs.append(r)
            if runs:
                measured[kind] = _median(runs)
        if "CSV" in measured and "xlsx" in measured:
            floor = measured["CSV"]["rows"] / measured["CSV"]["seconds"]
            print(_line(f"  {name}: CSV import (the floor)", measured["CSV"]))
            print(_line(f"  {name}: workbook import", measured["xlsx"], floor))
            rate = measured["xlsx"]["rows"] / measured["xlsx"]["seconds"]
            results.append(
                {
                    "work": f"import {args.rows} rows from a workbook into {name}",
                    "value": rate,
                    "unit": "rows/s",
                    "floor": floor,
                    "floor_name": "the CSV import of the same rows",
                    "ratio": rate / floor,
                    "goal": IMPORT_GOAL,
                    "peak_mib": measured["xlsx"]["peak_mib"],
                    "csv_peak_mib": measured["CSV"]["peak_mib"],
                }
            )

    if args.big_mb:
        rows = int(args.rows * args.big_mb * 1e6 / xlsx_path.stat().st_size)
        big_csv, big = OUT / f"charges-{rows}.csv", OUT / f"charges-{rows}.xlsx"
        if not big.exists():
            generate(big_csv, rows)
            write_workbook(big_csv, big)
        print(f"\n3. a {big.stat().st_size / 1e6:.0f} MB workbook ({rows:,} rows): peak memory")
        small = next(
            (r for r in results if r["work"] == "read openpyxl-written with feecheck"), None
        )
        for reader in readers:
            figures = _child(reader, str(big))
            if figures:
                print(_line(f"  {reader}", figures))
                results.append({"work": f"read {args.big_mb} MB with {reader}", **figures})
        url = f"sqlite:///{OUT / 'bench-xlsx-big.db'}"
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        prepare(url)
        figures = _child("import", url, "charges", str(big))
        if figures:
            print(_line("  the workbook's import into SQLite", figures))
            results.append({"work": f"import {args.big_mb} MB into SQLite", **figures})
        if small:
            print(f"  (feecheck's reader on {args.rows:,} rows: {small['peak_mib']:,.0f} MiB)")
    if args.json:
        args.json.write_text(json.dumps({"rows": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
