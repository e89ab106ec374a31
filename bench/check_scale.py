"""Checking a region: one month against its floor, a school year's memory, 1 worker against 2.

    .venv/bin/python bench/check_scale.py --url URL [--repeat 3] [--workers 2] [--json PATH]

The URL's database holds a region written by bench/generate_region.py (a school year,
2025-09..2026-08). Every measurement runs in a fresh Python process (its peak memory is that
process's max RSS), judging as on 2026-11-23:

- floor: one aggregate SQL pass over the month's charges (GROUP BY kindergarten, child, item:
  count and sum), every row fetched;
- check of one month (2026-03) of every kindergarten: facts loaded, rules run, findings stored,
  the JSON document written (to /dev/null), committed. The first run stores the findings; the
  next ones find them again (the steady state of a monthly check): the median of the repeats;
- check of the whole school year (12 months) in one process: time and peak memory;
- the same year with --workers N processes (services/check_workers.py), against 1 worker.

`--code DIR` runs the same measurements with another checkout's feecheck (for before/after
tables): the child process imports feecheck from DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MONTH = "2026-03"
YEAR = ("2025-09", "2026-08")
AS_OF = "2026-11-23"


def child(args: argparse.Namespace) -> None:
    """In a fresh process: one measurement, printed as one JSON line."""
    from datetime import date

    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from feecheck.domain.periods import Period
    from feecheck.engine.loader import load_ruleset
    from feecheck.models import Charge
    from feecheck.models.session import make_engine

    engine = make_engine(args.url)
    rules_dir = Path(args.code or ROOT) / "rules"
    first, last = Period.parse(args.first), Period.parse(args.last)
    result: dict[str, object] = {}
    with Session(engine) as session:
        if args.measure == "floor":
            started = time.perf_counter()
            rows = session.execute(
                select(
                    Charge.kindergarten_id,
                    Charge.child_id,
                    Charge.fee_item,
                    func.count(),
                    func.sum(Charge.amount),
                )
                .where(Charge.paid_on.between(first.first_day, last.last_day))
                .group_by(Charge.kindergarten_id, Charge.child_id, Charge.fee_item)
            ).all()
            result = {"seconds": time.perf_counter() - started, "groups": len(rows)}
            result["charges"] = session.scalar(
                select(func.count()).where(Charge.paid_on.between(first.first_day, last.last_day))
            )
        else:
            ruleset = load_ruleset(rules_dir)
            started = time.perf_counter()
            findings = _check(session, ruleset, first, last, date.fromisoformat(AS_OF), args)
            result = {"seconds": time.perf_counter() - started, "findings": findings}
    # the largest of this process and its workers (each worker's own peak, not their sum)
    result["peak_mib"] = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    print(json.dumps(result))


def _check(session, ruleset, first, last, as_of, args) -> int:  # type: ignore[no-untyped-def]
    from feecheck.services import checking, reporting

    scope = checking.Scope(first, last)
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        if not hasattr(reporting, "CheckOutput"):  # a checkout from before issue 16
            outcome = checking.run_check(session, ruleset, scope, as_of)
            session.commit()
            summary = reporting.summarise(outcome, scope, ruleset)
            json.dump(reporting.check_document(summary), devnull, ensure_ascii=False, indent=1)
            return len(outcome.findings)
        printer = reporting.CheckOutput(devnull, "json", scope, ruleset)
        if args.workers > 1:
            from feecheck.services.check_workers import run_parallel_check

            outcome = run_parallel_check(
                session,
                ruleset,
                Path(args.code or ROOT) / "rules",
                scope,
                as_of,
                args.workers,
                sink=printer,
            )
        else:
            outcome = checking.run_check(session, ruleset, scope, as_of, sink=printer)
        session.commit()
        printer.finish()
        return outcome.run.findings_count


def measure(
    url: str, measure: str, first: str, last: str, workers: int = 1, code: str = ""
) -> dict:  # type: ignore[type-arg]
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = code
    command = [sys.executable, __file__, "--url", url, "--child", measure]
    command += ["--first", first, "--last", last, "--workers", str(workers)]
    if code:
        command += ["--code", code]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{measure} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def dialect(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


def run(url: str, repeat: int, workers: int, code: str = "") -> list[dict]:  # type: ignore[type-arg]
    """The rows of the table (see bench/run_all.py for their shape)."""
    db = dialect(url)
    floors = [measure(url, "floor", MONTH, MONTH, code=code) for _ in range(repeat)]
    checks = [measure(url, "check", MONTH, MONTH, code=code) for _ in range(repeat + 1)]
    floor = statistics.median(f["seconds"] for f in floors)
    month = statistics.median(c["seconds"] for c in checks[1:])  # the first one stores
    charges = floors[0]["charges"]
    year_one = measure(url, "check", *YEAR, code=code)
    rows = [
        {
            "work": f"check one month ({charges:,} charges paid), {db}",
            "value": month,
            "unit": "s",
            "floor": floor,
            "floor_name": "one aggregate SQL pass",
            "ratio": month / floor,
            "goal": "<= 10",
            "peak_mib": max(c["peak_mib"] for c in checks),
            "first_run_s": checks[0]["seconds"],
        },
        {
            "work": f"check a school year (12 months), 1 worker, {db}",
            "value": year_one["seconds"],
            "unit": "s",
            "floor": None,
            "floor_name": "",
            "ratio": None,
            "goal": "peak < 300 MiB",
            "peak_mib": year_one["peak_mib"],
        },
    ]
    if workers > 1 and not code:
        year_n = measure(url, "check", *YEAR, workers=workers)
        rows.append(
            {
                "work": f"check a school year, {workers} workers, {db}",
                "value": year_n["seconds"],
                "unit": "s",
                "floor": year_one["seconds"],
                "floor_name": "1 worker",
                "ratio": year_one["seconds"] / year_n["seconds"],
                "goal": f">= {0.85 * workers:.1f}x faster",
                "peak_mib": year_n["peak_mib"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    parser.add_argument("--code", default="", help="import feecheck from this checkout")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--first", default=MONTH, help=argparse.SUPPRESS)
    parser.add_argument("--last", default=MONTH, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.measure = args.child
        child(args)
        return
    rows = run(args.url, args.repeat, args.workers, args.code)
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        floor = f"{row['floor']:.3f} ({row['floor_name']})" if row["floor"] is not None else "-"
        print(
            f"{row['work']:60} {row['value']:8.3f} {row['unit']}  floor {floor}  "
            f"ratio {ratio}  goal {row['goal']}  peak {row['peak_mib']:.0f} MiB"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
