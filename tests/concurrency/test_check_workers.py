"""A check spread over worker processes (issue 16): the same findings, stored once, in the same
order as a one-process check; a failed batch leaves the run unfinished and says so."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.loader import load_ruleset
from feecheck.models import CheckRun, Finding, Job
from feecheck.models.session import make_engine
from feecheck.services import jobs, schema
from feecheck.services.check_queue import run_queued_check
from feecheck.services.check_workers import batch_size_for, run_parallel_check
from feecheck.services.checking import CheckError, Scope, run_check
from feecheck.services.demo import build_demo
from feecheck.services.reporting import CheckOutput

YEAR = Scope(Period(2025, 9), Period(2026, 8))
AS_OF = date(2026, 11, 23)
RUN_CLI = "import sys; from feecheck.cli import main; sys.argv[0] = 'feecheck'; main()"
CHECK_YEAR = ["check", "--period", "2025-09", "--to", "2026-08", "--as-of", "2026-11-23"]


@pytest.fixture
def own_database(engine: Engine, tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Databases of their own (the workers cannot see the rolled-back test transaction), each
    migrated and holding the demo."""
    made: list[tuple[Engine | None, str]] = []

    def make() -> str:
        if engine.dialect.name == "sqlite":
            url = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
            made.append((None, url))
        else:
            name = f"feecheck_workers_{uuid.uuid4().hex[:10]}"
            admin = make_engine(engine.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(engine.url).set(database=name).render_as_string(hide_password=False)
            made.append((admin, name))
        fresh = make_engine(url)
        schema.upgrade(fresh)
        with Session(fresh) as session:
            build_demo(session, load_ruleset(ROOT / "rules").taxonomy)
            session.commit()
        fresh.dispose()
        return url

    yield make
    for admin, name in made:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


def _json(outcome_sink: CheckOutput, buffer: object) -> dict:  # type: ignore[type-arg]
    outcome_sink.finish()
    return json.loads(buffer.getvalue())  # type: ignore[attr-defined]


def test_two_workers_store_and_print_what_one_process_does(own_database) -> None:  # type: ignore[no-untyped-def]
    import io

    ruleset = load_ruleset(ROOT / "rules")
    outputs, stored = [], []
    for workers in (1, 2):
        url = own_database()
        engine = make_engine(url)
        buffer = io.StringIO()
        printer = CheckOutput(buffer, "json", YEAR, ruleset)
        with Session(engine) as session:
            if workers == 1:
                outcome = run_check(session, ruleset, YEAR, AS_OF, sink=printer)
            else:  # batches of 3 kindergartens: six batches over two processes
                outcome = run_parallel_check(
                    session, ruleset, ROOT / "rules", YEAR, AS_OF, 2, sink=printer, batch_size=3
                )
            session.commit()
            assert outcome.run.finished_at is not None
            assert outcome.created == outcome.run.findings_count > 0
            stored.append(
                sorted(session.execute(select(Finding.fingerprint, Finding.status)).all())
            )
            rerun = run_parallel_check(session, ruleset, ROOT / "rules", YEAR, AS_OF, 2)
            session.commit()
            # found again, kept: nothing new, nothing resolved, nothing stored twice
            assert (rerun.created, rerun.resolved) == (0, 0)
            assert rerun.updated == outcome.created
            assert session.scalar(select(func.count()).select_from(Finding)) == outcome.created
        engine.dispose()
        outputs.append(_json(printer, buffer))
    assert outputs[0] == outputs[1]
    assert stored[0] == stored[1]
    assert printer.has_violations and printer.checked == 17


def test_a_failing_batch_leaves_the_run_unfinished_and_says_so(
    own_database,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    url = own_database()
    ruleset = load_ruleset(ROOT / "rules")
    changed = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", changed)
    with (changed / "fee_items.yaml").open("a", encoding="utf-8") as f:
        f.write("\n# edited while the check ran\n")
    engine = make_engine(url)
    with Session(engine) as session:
        with pytest.raises(CheckError, match="rules/ changed while the check ran") as caught:
            run_parallel_check(session, ruleset, changed, YEAR, AS_OF, 2, batch_size=3)
        session.rollback()
        assert "left unfinished" in str(caught.value)
        run = session.scalars(select(CheckRun)).one()
        assert run.finished_at is None
        assert session.scalar(select(func.count()).select_from(Finding)) == 0
    engine.dispose()


def test_cli_workers_print_the_same_csv(own_database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    printed = []
    for workers in ("1", "2"):
        url = own_database()
        env = {"FEECHECK_DATABASE_URL": url, "FEECHECK_INSTANCE": str(tmp_path), "PATH": ""}
        result = subprocess.run(
            [sys.executable, "-c", RUN_CLI, *CHECK_YEAR, "--format", "csv", "--workers", workers],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 3, result.stderr
        assert "Traceback" not in result.stderr
        printed.append(result.stdout)
    assert printed[0] == printed[1]
    assert len(printed[0].splitlines()) > 100  # a row per finding


def test_batches_give_every_worker_several() -> None:
    assert batch_size_for(25_000, 4) == 100  # capped: a batch's facts stay small
    assert batch_size_for(1_000, 2) == 100
    assert batch_size_for(400, 2) == 50
    assert batch_size_for(17, 2) == 20  # never below the floor


def test_queued_batches_store_what_one_process_does(own_database) -> None:  # type: ignore[no-untyped-def]
    ruleset = load_ruleset(ROOT / "rules")
    reference = make_engine(own_database())
    with Session(reference) as session:
        one = run_check(session, ruleset, YEAR, AS_OF)
        session.commit()
        expected = sorted(session.execute(select(Finding.fingerprint, Finding.status)).all())
    reference.dispose()
    engine = make_engine(own_database())
    runner = jobs.InlineRunner(lambda: Session(engine))
    progress: list[tuple[int, int]] = []
    with Session(engine) as session:
        queued = run_queued_check(
            session,
            ruleset,
            ROOT / "rules",
            YEAR,
            AS_OF,
            runner,
            batch_size=5,
            poll_seconds=0.01,
            on_progress=lambda done, total: progress.append((done, total)),
        )
        session.commit()
        assert len(queued.jobs) == 4  # 17 kindergartens in batches of 5
        statuses = session.scalars(select(Job.status).where(Job.id.in_(queued.jobs))).all()
        assert statuses == ["done"] * 4
        assert progress[-1] == (4, 4)
        assert queued.run.finished_at is not None
        assert queued.counts.created == queued.run.findings_count == len(one.findings)
        assert queued.by_severity == {
            s: sum(1 for f in one.findings if f.severity == s)
            for s in {f.severity for f in one.findings}
        }
        assert queued.refunds_due == sum(f.amount_due or 0 for f in one.findings)
        stored = sorted(session.execute(select(Finding.fingerprint, Finding.status)).all())
    engine.dispose()
    assert stored == expected


def test_a_failed_batch_job_stops_the_wait_with_its_reason(
    own_database,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    ruleset = load_ruleset(ROOT / "rules")
    changed = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", changed)
    with (changed / "fee_items.yaml").open("a", encoding="utf-8") as f:
        f.write("\n# edited while the check ran\n")
    engine = make_engine(own_database())
    runner = jobs.InlineRunner(lambda: Session(engine))
    with Session(engine) as session:
        with pytest.raises(CheckError, match=r"batch job \d+ failed: .*rules/ changed") as caught:
            run_queued_check(
                session, ruleset, changed, YEAR, AS_OF, runner, batch_size=5, poll_seconds=0.01
            )
        session.rollback()
        assert "left unfinished" in str(caught.value)
        assert session.scalars(select(CheckRun.finished_at)).one() is None
        assert session.scalar(select(func.count()).select_from(Finding)) == 0
    engine.dispose()
