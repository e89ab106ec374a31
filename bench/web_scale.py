"""Time the dashboard and the findings list at scale: 1,000,000 charges, ~50,000 findings.

    .venv/bin/python bench/web_scale.py [--charges 1000000] [--findings 50000] [--requests 30]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/feecheck_bench_web] [--skip-sqlite]
        [--db bench/out/web_scale.db] [--reuse] [--json PATH]

The demo (bench/web.py's prepare: the demo written and checked, an inspector of 110108 and an
admin) is written first, then a big region is loaded straight into the tables, below the ORM
(sqlite3 executemany in chunks; psycopg COPY on PostgreSQL): 1,000 kindergartens over the demo's
districts, 40 children each, their charges for the demo's school year (12 months, two or more fee
items a child a month, up to --charges), monthly funding, filed accounts, a few check runs and
--findings findings with the statuses, severities, rules, months and refund claims (evidence
naming a real receipt, some refunded) a checked region has.

Every page is requested through the WSGI app (Flask's test client) as the inspector and as the
admin; the first request is a warm-up. Loading and measuring each run in a fresh process, so the
peak memory reported is the measuring process's own. `--reuse` keeps a loaded SQLite file (and a
PostgreSQL database whose schema is there) and only migrates it, to measure again after a change.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
OUT = ROOT / "bench" / "out"
GOAL_MS = 200.0
PASSWORD = "bench-password"
REGIONS = ("110108", "310104", "340202", "370102", "370705")  # the demo's districts
KINDERGARTENS = 1000
CHILDREN = 40
MONTHS = [f"2025-{m:02d}" for m in range(9, 13)] + [f"2026-{m:02d}" for m in range(1, 9)]
CATEGORIES = (
    ["public"] * 45
    + ["inclusive_private"] * 30
    + ["nonprofit_private"] * 15
    + ["forprofit_private"] * 10
)
GRADES = ["model", "grade1", "grade2", "grade3", "unrated", None]
ITEMS = [("保育教育费", "care_education"), ("伙食费", "meals"), ("代办费（园服）", "agency")]
# rule, severity, weight, claims money (evidence names a receipt), about a child
RULES = [
    ("MEAL-SETTLEMENT", "violation", 36, True, True),
    ("FEE-ABOVE-STANDARD", "violation", 8, True, True),
    ("FEE-PROHIBITED-ITEM", "violation", 3, True, True),
    ("ACCOMMODATION-NON-BOARDER", "violation", 2, True, True),
    ("FEE-FREE-FINAL-YEAR", "violation", 2, True, True),
    ("REFUND-ON-WITHDRAWAL", "violation", 3, True, True),
    ("FEE-NO-STANDARD", "violation", 4, False, True),
    ("FEE-PREPAY", "warning", 4, False, True),
    ("FEE-THIRD-PARTY-COLLECTOR", "violation", 2, False, True),
    ("FEE-UNCLASSIFIED-ITEM", "warning", 3, False, True),
    ("FEE-UNFILED-ACCOUNT", "violation", 3, False, True),
    ("HARDSHIP-NO-REDUCTION", "warning", 3, False, True),
    ("FEE-DISCLOSURE", "violation", 3, False, False),
    ("FEE-ADJUST-AMPLITUDE", "warning", 2, False, False),
    ("FEE-ADJUST-FREQUENCY", "warning", 2, False, False),
    ("FEE-ADJUST-MIDYEAR", "warning", 2, False, False),
    ("FUNDING-FLOOR", "violation", 6, False, False),
    ("FUNDING-LOWERED", "warning", 5, False, False),
    ("INCLUSIVE-FEE-CAP", "violation", 3, False, False),
    ("INCLUSIVE-SUBSIDY", "violation", 3, False, False),
    ("FUNDING-FORPROFIT-PUBLIC-MONEY", "violation", 1, False, False),
]
STATUSES = (
    ["open"] * 45
    + ["acknowledged"] * 15
    + ["rectified"] * 10
    + ["dismissed"] * 5
    + ["resolved"] * 25
)
CHUNK = 20_000


# ---------------------------------------------------------------- loading


class Writer:
    """Rows straight into a table: sqlite3 executemany in chunks, or psycopg COPY."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.raw = engine.raw_connection()
        self.dbapi = self.raw.dbapi_connection
        if self.sqlite:  # a bench database: no need to survive a power cut while it loads
            self.dbapi.execute("PRAGMA synchronous=OFF")

    def max_id(self, table: str) -> int:
        cursor = self.dbapi.cursor()
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        return int(cursor.fetchone()[0])

    def write(self, table: str, columns: list[str], rows: Any) -> int:
        count = 0
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            cursor = self.dbapi.cursor()
            chunk: list[tuple[Any, ...]] = []
            for row in rows:
                chunk.append(tuple(_sqlite_value(v) for v in row))
                if len(chunk) == CHUNK:
                    cursor.executemany(sql, chunk)
                    count += len(chunk)
                    chunk = []
            if chunk:
                cursor.executemany(sql, chunk)
                count += len(chunk)
        else:
            with self.dbapi.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(tuple(_pg_value(v) for v in row))
                        count += 1
                if "id" in columns:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
        return count

    def commit(self) -> None:
        self.dbapi.commit()
        self.raw.close()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value * 100)  # Money is integer fen on SQLite
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _month_days(month: str) -> tuple[date, date]:
    first = date(int(month[:4]), int(month[5:]), 1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt - timedelta(days=1)


def load(url: str, charges: int, findings: int) -> dict[str, Any]:
    """The demo, then the big region on top of it; returns counts and seconds."""
    from sqlalchemy import text
    from web import prepare  # bench/web.py: the demo, checked, and the two users

    from feecheck.models.session import make_engine
    from feecheck.services.ledger import claim

    started = time.perf_counter()
    prepare(url)
    engine = make_engine(url)
    w = Writer(engine)
    rng = random.Random(16)
    now = datetime.now(UTC)
    kg0, child0, charge0 = w.max_id("kindergartens"), w.max_id("children"), w.max_id("charges")
    run0, finding0 = w.max_id("check_runs"), w.max_id("findings")
    kgs = []
    for k in range(KINDERGARTENS):
        region = REGIONS[k % len(REGIONS)]
        category = CATEGORIES[rng.randrange(len(CATEGORIES))]
        kgs.append((kg0 + 1 + k, f"S{region}{k:04d}", region, category))
    w.write(
        "kindergartens",
        [
            "id",
            "code",
            "name",
            "region_code",
            "category",
            "boarding",
            "capacity",
            "grade",
            "created_at",
            "updated_at",
            "version",
        ],
        (
            (
                i,
                code,
                f"规模幼儿园{code[1:]}",
                region,
                category,
                k % 7 == 0,
                200,
                GRADES[k % len(GRADES)],
                now,
                now,
                1,
            )
            for k, (i, code, region, category) in enumerate(kgs)
        ),
    )
    w.write(
        "filed_accounts",
        ["kindergarten_id", "account_no", "filed_on"],
        ((i, f"6222{i:012d}", date(2024, 8, 1)) for i, _c, _r, _cat in kgs),
    )

    def child_rows() -> Any:
        for n, (i, _code, _region, _cat) in enumerate(kgs):
            for c in range(CHILDREN):
                yield (
                    child0 + 1 + n * CHILDREN + c,
                    i,
                    f"C{c:04d}",
                    date(2022 + c % 3, 9, 1),
                    date(2026, 7, 1) if c % 23 == 0 else None,
                    c % 3 == 0,
                    False,
                    "none" if c % 17 else "low_income",
                    1,
                )

    w.write(
        "children",
        [
            "id",
            "kindergarten_id",
            "child_ref",
            "enrolled_on",
            "left_on",
            "final_year",
            "boarding",
            "hardship",
            "version",
        ],
        child_rows(),
    )
    per_child_month = -(-charges // (KINDERGARTENS * CHILDREN * len(MONTHS)))
    receipts: dict[tuple[int, int, int], tuple[int, str, Decimal]] = {}  # (kg n, child, month)

    def charge_rows() -> Any:
        n_charge = 0
        for m, month in enumerate(MONTHS):
            first, last = _month_days(month)
            for n, (i, code, _region, _cat) in enumerate(kgs):
                for c in range(CHILDREN):
                    for item in range(per_child_month):
                        if n_charge == charges:
                            return
                        n_charge += 1
                        name, category = ITEMS[item % len(ITEMS)]
                        if item >= len(ITEMS):
                            name = f"{name}{item}"
                        amount = Decimal(rng.randrange(40000, 400000)) / 100
                        receipt = f"R{code[1:]}{c:02d}{m:02d}{item}"
                        charge_id = charge0 + n_charge
                        if item == 0:
                            receipts[(n, c, m)] = (charge_id, receipt, amount)
                        yield (
                            charge_id,
                            i,
                            child0 + 1 + n * CHILDREN + c,
                            receipt,
                            name,
                            category,
                            amount,
                            first,
                            last,
                            first + timedelta(days=rng.randrange(10)),
                            f"6222{i:012d}",
                            "kindergarten",
                            1,
                        )

    written = w.write(
        "charges",
        [
            "id",
            "kindergarten_id",
            "child_id",
            "receipt_no",
            "fee_item",
            "item_category",
            "amount",
            "period_start",
            "period_end",
            "paid_on",
            "account",
            "collector",
            "version",
        ],
        charge_rows(),
    )
    w.write(
        "funding",
        [
            "kindergarten_id",
            "reference",
            "source",
            "amount",
            "period_start",
            "period_end",
            "received_on",
            "version",
        ],
        (
            (
                i,
                f"F{code}-{month}",
                "per_child_appropriation",
                Decimal(rng.randrange(1500, 3500)) * CHILDREN / 12,
                *_month_days(month),
                _month_days(month)[0] + timedelta(days=14),
                1,
            )
            for i, code, _region, category in kgs
            if category in ("public", "inclusive_private")
            for month in MONTHS
        ),
    )
    w.write(
        "check_runs",
        [
            "id",
            "started_at",
            "finished_at",
            "period_from",
            "period_to",
            "region_code",
            "as_of",
            "ruleset_hash",
            "findings_count",
            "created",
            "updated",
            "resolved",
            "reopened",
            "not_evaluated",
        ],
        (
            (
                run0 + 1 + r,
                now,
                now,
                MONTHS[0],
                MONTHS[-1],
                region,
                "2026-11-30",
                "0" * 64,
                findings // len(REGIONS),
                findings // len(REGIONS),
                0,
                0,
                0,
                [],
            )
            for r, region in enumerate(REGIONS)
        ),
    )
    weights = [r[2] for r in RULES]
    claims: list[tuple[int, int, Decimal, str]] = []  # charge id, kg id, amount, status

    def finding_rows() -> Any:
        seen: set[tuple[int, int, int, str]] = set()
        n = 0
        while n < findings:
            rule, severity, _w, money, about_child = rng.choices(RULES, weights)[0]
            k, m = rng.randrange(KINDERGARTENS), rng.randrange(len(MONTHS))
            c = rng.randrange(CHILDREN) if about_child else -1
            if (k, m, c, rule) in seen or (money and (k, c, m) not in receipts):
                continue
            seen.add((k, m, c, rule))
            n += 1
            kg_id, _code, region, _cat = kgs[k]
            status = STATUSES[rng.randrange(len(STATUSES))]
            run = run0 + 1 + REGIONS.index(region)
            evidence: dict[str, Any] = {"month": MONTHS[m]}
            amount_due = None
            if money:
                charge_id, receipt, amount = receipts[(k, c, m)]
                due = (
                    amount
                    if rule in ("FEE-PROHIBITED-ITEM", "ACCOMMODATION-NON-BOARDER")
                    else (amount * Decimal(rng.randrange(5, 40)) / 100).quantize(Decimal("0.01"))
                )
                evidence = {
                    "charges": [receipt],
                    "receipt": receipt,
                    "amount": str(amount),
                    "refund_due": str(due),
                }
                amount_due = due
                claims.append((charge_id, kg_id, due, status))
            receipt_claimed, gross = claim(amount_due, evidence) or (None, None)
            yield (
                finding0 + n,
                f"scale-{finding0 + n:08d}",
                rule,
                severity,
                MONTHS[m],
                kg_id,
                child0 + 1 + k * CHILDREN + c if about_child else None,
                "《规定》第十条",
                f"{rule} 于 {MONTHS[m]}",
                f"{rule} in {MONTHS[m]}",
                evidence,
                {},
                [],
                amount_due,
                receipt_claimed,
                gross,
                "0" * 64,
                status,
                now,
                now,
                run,
                date(2026, 11, 30),
                now if status == "resolved" else None,
                run if status == "resolved" else None,
            )

    w.write(
        "findings",
        [
            "id",
            "fingerprint",
            "rule_id",
            "severity",
            "period",
            "kindergarten_id",
            "child_id",
            "citation",
            "message_zh",
            "message_en",
            "evidence",
            "parameters",
            "explanation",
            "amount_due",
            "claim_receipt",
            "claim_amount",
            "ruleset_hash",
            "status",
            "first_seen_at",
            "last_seen_at",
            "check_run_id",
            "as_of",
            "resolved_at",
            "resolved_by_run_id",
        ],
        finding_rows(),
    )
    refunded: set[int] = set()  # one refund a receipt
    w.write(
        "refunds",
        ["kindergarten_id", "charge_id", "refund_no", "amount", "refunded_on", "version"],
        (
            (
                kg_id,
                charge_id,
                f"T{charge_id}",
                due if n % 2 else (due / 2).quantize(Decimal("0.01")),
                date(2026, 9, 15),
                1,
            )
            for n, (charge_id, kg_id, due, status) in enumerate(claims)
            if (n % 5 == 0 or status == "resolved")
            and charge_id not in refunded
            and not refunded.add(charge_id)
        ),
    )
    w.commit()
    with engine.begin() as connection:  # fresh statistics, as a database that has run for a while
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return {"charges": written, "findings": findings, "seconds": time.perf_counter() - started}


# ---------------------------------------------------------------- measuring


def pages() -> list[tuple[str, str, str]]:
    """(group, name, path): the dashboard and the findings list's views an inspector uses."""
    return [
        ("dashboard", "dashboard", "/"),
        ("dashboard", "dashboard, district 110108", "/?region=110108"),
        ("findings list", "findings list", "/findings/"),
        ("findings list", "findings, page 2", "/findings/?page=2"),
        ("findings list", "findings, page 40", "/findings/?page=40"),
        ("findings list", "findings, all statuses", "/findings/?status="),
        ("findings list", "findings, all, page 200", "/findings/?status=&page=200"),
        ("findings list", "findings, region 110108", "/findings/?region=110108"),
        ("findings list", "findings, status open", "/findings/?status=open"),
        ("findings list", "findings, status resolved", "/findings/?status=resolved"),
        ("findings list", "findings, rule", "/findings/?rule=FEE-PREPAY"),
        ("findings list", "findings, violations", "/findings/?severity=violation"),
        (
            "findings list",
            "findings, rule+violation+region p3",
            "/findings/?rule=MEAL-SETTLEMENT&severity=violation&region=110108&page=3",
        ),
        ("findings list", "findings, months", "/findings/?period_from=2026-03&period_to=2026-05"),
    ]


def measure(url: str, requests: int) -> list[dict[str, Any]]:
    from feecheck import create_app
    from feecheck.extensions import limiter

    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False}
    )
    rows = []
    for user in ("inspector", "admin"):
        with app.app_context():
            limiter.reset()
        client = app.test_client()
        response = client.post("/login", data={"username": user, "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        for group, name, path in pages():
            assert client.get(path).status_code == 200, (user, path)  # warm-up
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            times.sort()
            rows.append(
                {
                    "user": user,
                    "group": group,
                    "page": name,
                    "path": path,
                    "p50": statistics.median(times),
                    "p95": times[max(0, int(len(times) * 0.95) - 1)],
                    "kib": len(response.data) / 1024,
                }
            )
    return rows


def child(args: argparse.Namespace) -> None:
    """One phase in this fresh process; prints its outcome as JSON on the last line."""
    if args.phase == "load":
        outcome: Any = load(args.url, args.charges, args.findings)
    else:
        from feecheck.models.session import make_engine
        from feecheck.services import schema

        engine = make_engine(args.url)
        schema.upgrade(engine)  # a reused database gets the newest migrations
        engine.dispose()
        outcome = {"pages": measure(args.url, args.requests)}
    outcome["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(outcome, default=str))


def run_phase(phase: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--url",
        url,
        "--charges",
        str(args.charges),
        "--findings",
        str(args.findings),
        "--requests",
        str(args.requests),
    ]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def loaded(url: str) -> bool:
    from sqlalchemy import inspect, text

    from feecheck.models.session import make_engine

    engine = make_engine(url)
    try:
        if "charges" not in inspect(engine).get_table_names():
            return False
        with engine.connect() as connection:
            return bool(connection.execute(text("SELECT count(*) FROM findings")).scalar())
    finally:
        engine.dispose()


def report(label: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{label}")
    print(f"{'user':10} {'page':38} {'p50 ms':>8} {'p95 ms':>8} {'KiB':>7}")
    for r in rows:
        mark = "ok" if r["p95"] < GOAL_MS else "SLOW"
        print(
            f"{r['user']:10} {r['page']:38} {r['p50']:8.1f} {r['p95']:8.1f} {r['kib']:7.1f} {mark}"
        )


def summary(label: str, charges: int, outcome: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for group in ("dashboard", "findings list"):
        worst = max((r for r in outcome["pages"] if r["group"] == group), key=lambda r: r["p95"])
        rows.append(
            {
                "work": f"{group} p95, {charges:,} charges ({label})",
                "value": round(worst["p95"], 1),
                "unit": "ms",
                "floor": GOAL_MS,
                "floor_name": "goal",
                "ratio": round(worst["p95"] / GOAL_MS, 3),
                "goal": f"< {GOAL_MS:.0f} ms",
                "peak_mib": round(outcome["peak_mib"], 1),
                "worst": f"{worst['user']}: {worst['page']}",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--findings", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--pg", help="a PostgreSQL URL (its public schema is wiped)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--db", type=Path, default=OUT / "web_scale.db")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded database")
    parser.add_argument("--json", type=Path, help="write the summary rows here")
    parser.add_argument("--phase", choices=("load", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args)
        return
    targets = []
    if not args.skip_sqlite:
        targets.append(("SQLite", f"sqlite:///{args.db.resolve()}"))
    if args.pg:
        targets.append(("PostgreSQL", args.pg))
    summaries: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for label, url in targets:
        if not (args.reuse and loaded(url)):
            if label == "SQLite":
                args.db.parent.mkdir(parents=True, exist_ok=True)
                args.db.unlink(missing_ok=True)
            done = run_phase("load", url, args)
            print(
                f"{label}: loaded {done['charges']:,} charges and {done['findings']:,} findings "
                f"in {done['seconds']:.0f} s (peak {done['peak_mib']:.0f} MiB)"
            )
        outcome = run_phase("measure", url, args)
        report(f"{label} ({args.charges:,} charges, {args.findings:,} findings)", outcome["pages"])
        summaries += summary(label, args.charges, outcome)
        details[label] = outcome["pages"]
    for row in summaries:
        print(f"{row['work']}: {row['value']} ms ({row['worst']}), peak {row['peak_mib']} MiB")
    if args.json:
        args.json.write_text(json.dumps({"rows": summaries, "pages": details}, indent=1) + "\n")


if __name__ == "__main__":
    main()
