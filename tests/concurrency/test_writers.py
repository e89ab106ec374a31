"""Two people at once (issue 12): real processes writing one database, on SQLite (the default)
and on PostgreSQL. Nobody fails because someone else is writing; nothing is duplicated; the
loser of a race waits its turn or says why in one line, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from feecheck import create_app
from feecheck.models import Charge, Finding, ImportBatch
from feecheck.models.session import make_engine
from feecheck.services import schema
from tests.factories import make_user

RUN_CLI = "import sys; from feecheck.cli import main; sys.argv[0] = 'feecheck'; main()"
KINDERGARTENS = 20
CHILDREN = 25  # per kindergarten
MONTHS = 10


@pytest.fixture
def shared(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """A database of its own (not the rolled-back test transaction), migrated and filled."""
    if engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        admin = None
    else:
        name = f"feecheck_conc_{uuid.uuid4().hex[:10]}"
        admin = make_engine(engine.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(engine.url).set(database=name).render_as_string(hide_password=False)
    fresh = make_engine(url)
    schema.upgrade(fresh)
    fresh.dispose()
    _files(tmp_path)
    for record_type in ("kindergartens", "children"):
        result = _cli(url, tmp_path, "import", record_type, str(tmp_path / f"{record_type}.csv"))
        assert result.returncode == 0, result.stderr
    try:
        yield url
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


def _files(folder: Path) -> None:
    kgs = ["code,name,region_code,category,filed_accounts"]
    children = ["kindergarten_code,child_ref,enrolled_on,birth_date"]
    charges = [
        "receipt_no,kindergarten_code,child_ref,fee_item,amount,period_start,period_end,paid_on,account"
    ]
    for k in range(KINDERGARTENS):
        kgs.append(f"K{k:03d},幼儿园{k},110108,nonprofit_private,A1")
        for c in range(CHILDREN):
            children.append(f"K{k:03d},C{c:03d},2024-09-01,2021-03-01")
            for m in range(1, MONTHS + 1):
                item = "舞蹈兴趣班费" if (c + m) % 7 == 0 else "保教费"
                charges.append(
                    f"R{c:03d}-{m:02d},K{k:03d},C{c:03d},{item},800.00,"
                    f"2025-{m:02d}-01,2025-{m:02d}-28,2025-{m:02d}-01,A1"
                )
    for name, lines in (("kindergartens", kgs), ("children", children), ("charges", charges)):
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _env(url: str, folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FEECHECK_DATABASE_URL": url,
        "FEECHECK_INSTANCE": str(folder / "instance"),
        "FEECHECK_SECRET_KEY": "concurrency-test",
    }


def _start(url: str, folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, *args],
        env=_env(url, folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cli(url: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args],
        env=_env(url, folder),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _both(first: subprocess.Popen[str], second: subprocess.Popen[str]) -> list[tuple[int, str]]:
    done = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert "Traceback" not in out + err, out + err
        done.append((process.returncode, out + err))
    return done


def _count(url: str, statement) -> int:  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return session.scalar(statement) or 0
    finally:
        engine.dispose()


ROWS = KINDERGARTENS * CHILDREN * MONTHS
CHECK = ("check", "--period", "2025-01", "--to", "2025-10", "--as-of", "2026-01-31")


def test_the_same_file_imported_twice_at_once(shared: str, tmp_path: Path) -> None:
    charges = str(tmp_path / "charges.csv")
    results = _both(
        _start(shared, tmp_path, "import", "charges", charges),
        _start(shared, tmp_path, "import", "charges", charges),
    )
    assert [code for code, _ in results] == [0, 0], results
    assert _count(shared, select(func.count()).select_from(Charge)) == ROWS
    created = sum(int(out.split("created ")[1].split(",")[0]) for _, out in results)
    assert created == ROWS  # every row written once, by one of them
    statuses = _count(
        shared,
        select(func.count()).select_from(ImportBatch).where(ImportBatch.status != "committed"),
    )
    assert statuses == 0


def test_an_import_and_a_check_at_once(shared: str, tmp_path: Path) -> None:
    assert (
        _cli(shared, tmp_path, "import", "charges", str(tmp_path / "charges.csv")).returncode == 0
    )
    alone = _cli(shared, tmp_path, *CHECK)
    assert alone.returncode == 3, alone.stderr
    findings = _count(shared, select(func.count()).select_from(Finding))
    (check, _), (imported, _) = _both(
        _start(shared, tmp_path, *CHECK),
        _start(shared, tmp_path, "import", "charges", str(tmp_path / "charges.csv")),
    )
    assert (check, imported) == (3, 0)
    assert _count(shared, select(func.count()).select_from(Finding)) == findings


def test_two_checks_of_the_same_months_at_once(shared: str, tmp_path: Path) -> None:
    assert (
        _cli(shared, tmp_path, "import", "charges", str(tmp_path / "charges.csv")).returncode == 0
    )
    for _round in range(3):
        results = _both(_start(shared, tmp_path, *CHECK), _start(shared, tmp_path, *CHECK))
        assert [code for code, _ in results] == [3, 3], results
    fingerprints = _count(shared, select(func.count(func.distinct(Finding.fingerprint))))
    assert fingerprints == _count(shared, select(func.count()).select_from(Finding)) > 0


def test_a_web_upload_while_an_import_runs(shared: str, tmp_path: Path) -> None:
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": shared, "WTF_CSRF_ENABLED": False}
    )
    app.instance_path = str(tmp_path / "web-instance")
    with app.app_context():
        from feecheck.extensions import db

        make_user(db.session, "admin", "correct horse", "admin", None)
        db.session.commit()
    client = app.test_client()
    assert (
        client.post("/login", data={"username": "admin", "password": "correct horse"}).status_code
        == 302
    )
    running = _start(shared, tmp_path, "import", "charges", str(tmp_path / "charges.csv"))
    small = tmp_path / "small.csv"
    small.write_text(
        "receipt_no,kindergarten_code,child_ref,fee_item,amount,period_start,period_end,paid_on,account\n"
        "W1,K000,C000,保教费,800,2025-11-01,2025-11-30,2025-11-01,A1\n",
        encoding="utf-8",
    )
    for _attempt in range(2):  # it used to fail with HTTP 500, twice
        with small.open("rb") as handle:
            response = client.post(
                "/imports/",
                data={"record_type": "charges", "encoding": "auto", "file": (handle, "small.csv")},
                content_type="multipart/form-data",
            )
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "internal error" not in page and "内部错误" not in page
    out, err = running.communicate(timeout=300)
    assert running.returncode == 0 and "Traceback" not in out + err
    from feecheck.extensions import db

    db.engine(app).dispose()


SERVE = """
import sys
from werkzeug.serving import run_simple
from feecheck import create_app
app = create_app({"WTF_CSRF_ENABLED": False})
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=True)
"""


def test_a_double_clicked_commit_imports_once(shared: str, tmp_path: Path) -> None:
    """Two commits of one preview at the same moment, to a real server: one import."""
    import http.cookiejar
    import socket
    import threading
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    from feecheck.config import ROOT
    from feecheck.engine.taxonomy import load_taxonomy
    from feecheck.services.audit import Actor
    from feecheck.services.importing import ImportOptions, run_import, start_batch, stored_upload
    from feecheck.services.users import create_user

    instance = tmp_path / "instance"
    upload = tmp_path / "upload.csv"
    upload.write_text((tmp_path / "charges.csv").read_text(encoding="utf-8"), encoding="utf-8")
    engine = make_engine(shared)
    with Session(engine) as session:
        admin = create_user(session, "admin", "correct horse", "admin", None, Actor("test"))
        session.commit()
        options = ImportOptions(dry_run=True)
        preview = start_batch(session, "charges", upload, "charges.csv", admin, options)
        stored = stored_upload(instance, preview.id)
        upload.rename(stored)
        report = run_import(
            session, "charges", stored, taxonomy=load_taxonomy(ROOT / "rules"), user=admin,
            options=options, batch=preview,
        )  # fmt: skip
        assert report.status == "dry_run"
        preview_id = preview.id
    engine.dispose()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        env=_env(shared, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        for _ in range(100):
            try:
                opener.open(f"{base}/login", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        login = urllib.parse.urlencode({"username": "admin", "password": "correct horse"})
        opener.open(f"{base}/login", login.encode(), timeout=10)
        statuses: list[int] = []
        problems: list[str] = []

        def click() -> None:
            try:
                statuses.append(
                    opener.open(f"{base}/imports/{preview_id}/commit", b"", timeout=120).status
                )
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
            except OSError as error:  # the server went away: recorded, so the test says so
                statuses.append(-1)
                problems.append(repr(error))

        clicks = [threading.Thread(target=click) for _ in range(2)]
        for thread in clicks:
            thread.start()
        for thread in clicks:
            thread.join()
        assert statuses == [200, 200], problems  # both land on a page, neither on an error
        deadline = time.time() + 120
        while (
            _count(
                shared,
                select(func.count())
                .select_from(ImportBatch)
                .where(ImportBatch.status.in_(("pending", "running"))),
            )
            and time.time() < deadline
        ):
            time.sleep(0.2)
        committed = (
            select(func.count())
            .select_from(ImportBatch)
            .where(ImportBatch.status == "committed", ImportBatch.record_type == "charges")
        )
        assert _count(shared, committed) == 1
        assert _count(shared, select(func.count()).select_from(Charge)) == ROWS
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert "Traceback" not in out + err


HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("ROLLBACK")
"""


def test_a_writer_that_waits_too_long_says_so_in_one_line(shared: str, tmp_path: Path) -> None:
    if not shared.startswith("sqlite"):
        pytest.skip("SQLite's single write lock; PostgreSQL's advisory locks wait per record type")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, shared.removeprefix("sqlite:///"), "8"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    env = {**_env(shared, tmp_path), "FEECHECK_SQLITE_BUSY_TIMEOUT_MS": "500"}
    result = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "import", "charges", str(tmp_path / "charges.csv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    holder.communicate(timeout=30)  # waits, and closes its pipe
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "the database is busy" in result.stderr and len(result.stderr.strip().splitlines()) == 1
