"""Time the web app's pages on the demo data: p50 and p95 per page, beside the 200 ms goal.

    .venv/bin/python bench/web.py [--requests 40] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/DB]

The demo is written and its school year checked (as `feecheck quickstart` does) into a fresh
SQLite file, or into the PostgreSQL database given (its public schema is wiped). Each page is
requested through the WSGI app (Flask's test client: the server's whole work, without a network)
as an inspector of a district and as an admin who sees every district; the first request of each
page is a warm-up and is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select, text

from feecheck import create_app
from feecheck.extensions import db, limiter
from feecheck.models import Charge, Finding, Kindergarten
from feecheck.models.session import make_engine
from feecheck.services import rules as rules_service
from feecheck.services import schema
from feecheck.services.audit import Actor
from feecheck.services.demo import build_demo, check_demo
from feecheck.services.users import create_user

GOAL_MS = 200.0
PASSWORD = "bench-password"


def prepare(url: str) -> dict[str, int]:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    schema.upgrade(engine)
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        session = db.session
        ruleset = rules_service.cached(app.config["RULES_DIR"])
        build_demo(session, ruleset.taxonomy)
        session.commit()
        check_demo(session, ruleset, date.today())
        create_user(session, "inspector", PASSWORD, "inspector", "110108", Actor("bench"))
        create_user(session, "admin", PASSWORD, "admin", None, Actor("bench"))
        session.commit()
        kg = session.scalar(
            select(Kindergarten)
            .where(Kindergarten.region_code == "110108")
            .order_by(Kindergarten.id)
        )
        charge = session.scalar(select(Charge.id).where(Charge.kindergarten_id == kg.id))
        finding = session.scalar(
            select(Finding.id).where(
                Finding.kindergarten_id.in_(
                    select(Kindergarten.id).where(Kindergarten.region_code == "110108")
                )
            )
        )
        return {"kg": kg.id, "charge": charge or 0, "finding": finding or 0}


def pages(ids: dict[str, int]) -> list[tuple[str, str]]:
    return [
        ("dashboard", "/"),
        ("kindergartens", "/kindergartens/"),
        ("kindergarten page", f"/kindergartens/{ids['kg']}"),
        ("findings list", "/findings/"),
        ("findings, all statuses", "/findings/?status="),
        ("finding page", f"/findings/{ids['finding']}"),
        ("charges list", "/records/charges/"),
        ("charges of a kindergarten", f"/records/charges/?kindergarten={ids['kg']}"),
        ("charge page", f"/records/charges/{ids['charge']}"),
        ("charge form", f"/records/charges/{ids['charge']}/edit"),
        ("new charge form", f"/records/charges/new?kindergarten={ids['kg']}"),
        ("rules in force", "/rules?region=110108"),
        ("import page", "/imports/"),
    ]


def measure(url: str, requests: int) -> list[tuple[str, str, float, float, int]]:
    ids = prepare(url)
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
        for name, path in pages(ids):
            assert client.get(path).status_code == 200, (user, path)  # warm-up
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            rows.append((user, name, statistics.median(times), p95, len(response.data)))
    return rows


def report(label: str, rows: list[tuple[str, str, float, float, int]]) -> None:
    print(f"\n{label}")
    print(f"{'user':10} {'page':28} {'p50 ms':>8} {'p95 ms':>8} {'goal':>6}  {'KiB':>6}")
    for user, name, p50, p95, size in rows:
        mark = "ok" if p95 < GOAL_MS else "SLOW"
        print(
            f"{user:10} {name:28} {p50:8.1f} {p95:8.1f} {GOAL_MS:6.0f}  {size / 1024:6.1f} {mark}"
        )
    worst = max(rows, key=lambda r: r[3])
    print(f"worst p95: {worst[3]:.1f} ms ({worst[0]}, {worst[1]}); goal < {GOAL_MS:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--pg", help="a PostgreSQL URL (its public schema is wiped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        report("SQLite (demo: 17 kindergartens, 8,215 charges)", measure(url, args.requests))
    if args.pg:
        report("PostgreSQL", measure(args.pg, args.requests))


if __name__ == "__main__":
    main()
