"""Province scale in one table: generate a region, check it, import a big file, time the pages.

    .venv/bin/python bench/run_all.py [--size small|large] [--pg URL] [--skip-pg]
        [--before DIR] [--workers 2] [--json PATH]

- small: 50 kindergartens x 40 children (~34,000 charges over a school year), a 20,000-row
  import, 50,000 charges behind the pages: a few minutes, to see that the benches still run;
- large: 1,000 kindergartens x 60 children (~1,040,000 charges over a school year), a
  200,000-row import, 1,000,000 charges behind the pages: the figures of the README.

Each bench runs in its own processes and writes its rows (work, value, unit, floor, floor_name,
ratio, goal, peak_mib) to bench/out/<size>-*.json; this script prints them as one table:

- bench/generate_region.py writes the region (SQLite file bench/out/region-<size>.db and, unless
  --skip-pg, the PostgreSQL database of --pg);
- bench/check_scale.py: a month against one aggregate SQL pass, a school year in bounded memory,
  1 worker against --workers; with --before DIR, the same with another checkout's code (a
  `git worktree add DIR <commit>`), on the same data;
- bench/import_charges.py: a GB18030 file through the importer against the raw bulk write;
- bench/web_scale.py: the dashboard's and the findings list's p95 (goal < 200 ms).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/feecheck_bench_scale"
SIZES = {
    # kindergartens, children each, import rows, web charges, web findings, repeats
    "small": (50, 40, 20_000, 50_000, 5_000, 2),
    "large": (1000, 60, 200_000, 1_000_000, 50_000, 3),
}


def bench(script: str, *args: str) -> None:
    command = [sys.executable, str(ROOT / "bench" / script), *args]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True)


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` when it does not exist (the benches wipe its
    schema, bench/import_charges.py drops its own database afterwards: it gets another one)."""
    import psycopg

    server, name = url.replace("+psycopg", "").rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        connection.execute(f'CREATE DATABASE "{name}"')


def rows(path: Path, label: str = "") -> list[dict]:  # type: ignore[type-arg]
    found = json.loads(path.read_text(encoding="utf-8"))["rows"]
    for row in found:
        row["work"] = f"{row['work']}{label}"
    return found


def table(found: list[dict]) -> str:  # type: ignore[type-arg]
    lines = [
        f"{'work':68} {'value':>11} {'floor':>22} {'ratio':>7} {'goal':>16} {'peak MiB':>9}",
    ]
    for row in found:
        floor = "-" if row.get("floor") is None else f"{row['floor']:.3f} {row['floor_name']}"
        ratio = "-" if row.get("ratio") is None else f"{row['ratio']:.2f}"
        peak = "-" if row.get("peak_mib") is None else f"{row['peak_mib']:.0f}"
        value = f"{row['value']:.3f} {row['unit']}"
        lines.append(
            f"{row['work'][:68]:68} {value:>11} {floor[:22]:>22} {ratio:>7} "
            f"{row.get('goal') or '-'!s:>16} {peak:>9}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=list(SIZES), default="small")
    parser.add_argument("--pg", default=PG_DEFAULT, help="a PostgreSQL URL (schema wiped)")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--before", default="", help="a checkout of the old code to compare")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()
    kindergartens, children, import_rows, web_charges, web_findings, repeat = SIZES[args.size]
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    targets = [("sqlite", f"sqlite:///{OUT / f'region-{args.size}.db'}")]
    if not args.skip_pg:
        targets.append(("pg", args.pg))
    found: list[dict] = []  # type: ignore[type-arg]
    for name, url in targets:
        if name == "sqlite":
            (OUT / f"region-{args.size}.db").unlink(missing_ok=True)
        else:
            ensure_database(url)
        bench(
            "generate_region.py",
            *("--url", url, "--kindergartens", str(kindergartens), "--children", str(children)),
        )
        bench_args = ["--url", url, "--repeat", str(repeat), "--workers", str(args.workers)]
        if args.before:
            before = OUT / f"{args.size}-check-{name}-before.json"
            bench("check_scale.py", *bench_args, "--code", args.before, "--json", str(before))
            found += rows(before, " [before]")
        after = OUT / f"{args.size}-check-{name}.json"
        bench("check_scale.py", *bench_args, "--json", str(after))
        found += rows(after)
    imported = OUT / f"{args.size}-import.json"
    import_args = ["--rows", str(import_rows), "--encoding", "gb18030", "--repeat", str(repeat)]
    import_args += ["--skip-pg"] if args.skip_pg else ["--pg", f"{args.pg}_import"]
    bench("import_charges.py", *import_args, "--json", str(imported))
    found += rows(imported)
    web = OUT / f"{args.size}-web.json"
    web_args = ["--charges", str(web_charges), "--findings", str(web_findings)]
    if not args.skip_pg:
        ensure_database(args.pg)
        web_args += ["--pg", args.pg]
    bench("web_scale.py", *web_args, "--json", str(web))
    found += rows(web)
    print()
    print(table(found))
    print(f"\nall benches: {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"rows": found}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
