"""The jobs service (issue 13 §7): a job runs to done or failed, never stays running; progress is
in the job row for any process to read; jobs of dead processes are failed; a job is private to
its user; imports and checks run as jobs, inline, in a thread or through RQ on Redis."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from feecheck.config import ROOT, ConfigError, defaults
from feecheck.models import CheckRun, Finding, ImportBatch, Job, Kindergarten
from feecheck.models.session import make_engine, make_session_factory
from feecheck.services import jobs, schema
from feecheck.services.importing import ImportOptions, start_batch
from feecheck.services.locks import begin_write
from feecheck.services.scope import NotFound
from feecheck.services.workers import HOST, worker
from tests.factories import make_charge, make_child, make_kindergarten, make_user

REDIS_URL = "redis://127.0.0.1:6379/0"
NOBODY_LISTENS = "redis://127.0.0.1:1/0"
DEAD_PID = 2**22 + 12345  # above the kernel's pid limit: never alive
RULES = ROOT / "rules"


@pytest.fixture
def factory(connection: Connection) -> Callable[[], Session]:
    """Sessions on the test's connection (inside its rolled-back transaction), as an app's are."""

    def new_session() -> Session:
        return Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    return new_session


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, jobs.KindFunction], None]:
    """Register a kind for one test."""

    def register(name: str, function: jobs.KindFunction) -> None:
        monkeypatch.setitem(jobs.KINDS, name, function)

    return register


def _run(session: Session, factory: Callable[[], Session], kind: str, params: dict) -> Job:  # type: ignore[type-arg]
    job = jobs.enqueue(session, kind, params, None, jobs.InlineRunner(factory))
    session.refresh(job)
    return job


# --- lifecycle ----------------------------------------------------------------------------


def test_a_job_runs_to_done_with_its_result_and_progress(session, factory, kinds) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, Any] = {}

    def double(job_session: Session, job: Job, report: jobs.ReportProgress) -> dict[str, Any]:
        seen["status"], seen["worker"] = job.status, job.worker
        report(2, 4)
        report(4, 4)
        return {"twice": job.params["n"] * 2}

    kinds("double", double)
    user = make_user(session)
    job = jobs.enqueue(session, "double", {"n": 21}, user, jobs.InlineRunner(factory))
    assert job.status == "done"  # inline: finished when enqueue returns
    assert job.result == {"twice": 42} and job.message is None
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert seen == {"status": "running", "worker": worker()}
    assert job.user_id == user.id and job.runner == "inline" and job.kind == "double"
    assert job.started_at is not None and job.finished_at is not None
    assert job.started_at <= job.finished_at


def test_an_exception_in_a_job_ends_it_failed_with_a_message(
    session, factory, kinds, caplog
) -> None:  # type: ignore[no-untyped-def]
    def broken(job_session: Session, job: Job, report: jobs.ReportProgress) -> None:
        report(1, 10)
        raise RuntimeError("something nobody expected\nsecond line")

    kinds("broken", broken)
    with caplog.at_level(logging.ERROR, logger="feecheck.services.jobs"):
        job = _run(session, factory, "broken", {})
    assert job.status == "failed" and job.finished_at is not None
    assert job.message == "内部错误 / internal error: something nobody expected"
    assert "Traceback" not in job.message and job.result is None
    assert (job.progress_done, job.progress_total) == (1, 10)  # where it stopped
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and "something nobody expected" in str(logged[0].exc_info[1])


def test_a_refusal_is_the_jobs_bilingual_message_and_undoes_its_writes(
    session, factory, kinds
) -> None:  # type: ignore[no-untyped-def]
    def refusing(job_session: Session, job: Job, report: jobs.ReportProgress) -> None:
        begin_write(job_session, "test")
        make_kindergarten(job_session, code="K-NOT-KEPT")  # written, then refused: rolled back
        raise jobs.JobFailed("no such month", "没有这个月份", {"partial": 1})

    kinds("refusing", refusing)
    job = _run(session, factory, "refusing", {})
    assert job.status == "failed" and job.message == "没有这个月份 / no such month"
    assert job.result == {"partial": 1}
    assert not session.scalar(select(Kindergarten.id).where(Kindergarten.code == "K-NOT-KEPT"))


def test_a_result_that_cannot_be_stored_fails_the_job_instead_of_leaving_it_running(
    session, factory, kinds
) -> None:  # type: ignore[no-untyped-def]
    kinds("odd", lambda s, job, report: {"when": object()})  # not JSON
    job = _run(session, factory, "odd", {})
    assert job.status == "failed" and job.result is None and job.finished_at is not None
    assert (job.message or "").startswith(
        "任务结果无法保存 / the job's outcome could not be stored"
    )


def test_an_unknown_kind_is_refused_before_anything_is_recorded(session, factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown job kind 'nothing'"):
        jobs.enqueue(session, "nothing", {}, None, jobs.InlineRunner(factory))
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_job_runs_once(session, factory, kinds) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    kinds("count", lambda s, job, report: calls.append(job.id) or {"calls": len(calls)})
    job = _run(session, factory, "count", {})
    jobs.perform(job.id, factory)  # again (a retried RQ job, a double submit): nothing happens
    session.refresh(job)
    assert calls == [job.id] and job.result == {"calls": 1} and job.status == "done"


# --- runners ------------------------------------------------------------------------------


def test_a_runner_that_cannot_take_the_job_fails_it_and_its_import_batch(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = make_user(session)
    upload = tmp_path / "kgs.csv"
    upload.write_text("code,name,region_code,category\nK1,一园,110108,public\n", encoding="utf-8")
    batch = start_batch(session, "kindergartens", upload, "kgs.csv", user, ImportOptions())
    job = jobs.start_import(
        session, batch, upload, ImportOptions(), user, RULES, jobs.RqRunner(NOBODY_LISTENS)
    )
    assert job.status == "failed" and job.runner == "rq" and job.started_at is None
    assert "无法连接任务队列" in job.message and "cannot be reached" in job.message
    session.refresh(batch)
    assert batch.status == "failed" and batch.message == job.message
    assert not upload.exists()  # nobody will import it: the stored upload goes


def test_the_configuration_chooses_the_runner(monkeypatch, tmp_path, factory) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(jobs.make_runner(defaults(tmp_path), factory), jobs.ThreadRunner)
    monkeypatch.setenv("FEECHECK_JOBS_RUNNER", "rq")
    monkeypatch.setenv("FEECHECK_JOBS_REDIS_URL", "redis://:secret@queue.example:6380/2")
    runner = jobs.make_runner(defaults(tmp_path), factory)
    assert isinstance(runner, jobs.RqRunner) and runner.queue_name == "feecheck"
    assert runner.redis_url == "redis://:secret@queue.example:6380/2"
    assert jobs.redacted(runner.redis_url) == "redis://:***@queue.example:6380/2"
    monkeypatch.setenv("FEECHECK_JOBS_RUNNER", "celery")
    with pytest.raises(ConfigError, match="FEECHECK_JOBS_RUNNER must be one of thread, rq"):
        defaults(tmp_path)


# --- the import and check kinds -----------------------------------------------------------


def test_an_import_runs_as_a_job(session, factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = make_user(session, region_code=None, role="admin")
    upload = tmp_path / "kgs.csv"
    upload.write_text(
        "code,name,region_code,category\nK1,一园,110108,public\nK2,二园,110108,x\n",
        encoding="utf-8",
    )
    batch = start_batch(session, "kindergartens", upload, "kgs.csv", user, ImportOptions())
    job = jobs.start_import(
        session, batch, upload, ImportOptions(), user, RULES, jobs.InlineRunner(factory)
    )
    session.refresh(job)
    assert job.status == "done" and job.params["batch_id"] == batch.id
    assert job.result == {
        "batch_id": batch.id,
        "status": "committed",
        "rows": 2,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert job.progress_done == 2
    session.refresh(batch)
    assert batch.status == "committed" and batch.created == 1
    assert session.scalar(select(Kindergarten.name).where(Kindergarten.code == "K1")) == "一园"
    assert not upload.exists()
    assert jobs.job_for_batch(session, batch.id) == job


def test_an_unreadable_import_fails_its_job_with_the_importers_message(
    session, factory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    upload = tmp_path / "book.xlsx"
    upload.write_bytes(b"PK\x03\x04 a workbook")
    batch = start_batch(session, "charges", upload, "book.xlsx", None, ImportOptions(dry_run=True))
    job = jobs.start_import(
        session, batch, upload, ImportOptions(dry_run=True), None, RULES, jobs.InlineRunner(factory)
    )
    session.refresh(job)
    assert job.status == "failed" and "Excel 工作簿已损坏" in job.message
    assert job.result is not None and job.result["batch_id"] == batch.id
    session.refresh(batch)
    assert batch.status == "failed" and "Excel 工作簿已损坏" in (batch.message or "")


def test_a_check_runs_as_a_job(session, factory) -> None:  # type: ignore[no-untyped-def]
    kg = make_kindergarten(session, code="KJ1")
    child = make_child(session, kg)
    make_charge(session, child, fee_item="舞蹈兴趣班费", item_category="special_class")
    user = make_user(session)  # an inspector of 110108

    def check() -> Job:
        job = jobs.start_check(
            session,
            user,
            jobs.InlineRunner(factory),
            period_from="2025-09",
            period_to="2025-09",
            as_of=date(2026, 1, 31),
            rules_dir=RULES,
            kindergarten_code="KJ1",
        )
        session.refresh(job)
        return job

    first = check()
    assert first.status == "done", first.message
    stored = session.scalar(select(func.count()).select_from(Finding))
    rules = set(session.scalars(select(Finding.rule_id)))
    assert "FEE-PROHIBITED-ITEM" in rules
    assert first.result["findings"] == first.result["created"] == stored > 0
    assert first.result["kindergartens"] == 1
    assert session.get(CheckRun, first.result["check_run_id"]).user_id == user.id
    assert (first.progress_done, first.progress_total) == (1, 1)
    again = check()
    assert again.result["created"] == 0 and again.result["findings"] == stored


def test_a_check_outside_the_users_region_fails(session, factory) -> None:  # type: ignore[no-untyped-def]
    user = make_user(session)  # 110108
    job = jobs.start_check(
        session,
        user,
        jobs.InlineRunner(factory),
        period_from="2025-09",
        period_to=None,
        as_of=date(2026, 1, 31),
        rules_dir=RULES,
        region_code="310104",
    )
    session.refresh(job)
    assert job.status == "failed"
    assert job.message == "地区 310104 不在您的辖区内 / region 310104 is outside your region"


# --- stale jobs and visibility ------------------------------------------------------------


def test_jobs_left_by_a_dead_process_are_failed(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    upload = tmp_path / "left.csv"
    upload.write_text("code\nK1\n", encoding="utf-8")
    batch = start_batch(session, "kindergartens", upload, "left.csv", None, ImportOptions())

    def job(status: str, worker_: str | None, ago: timedelta, **values: Any) -> Job:
        made = Job(
            **{"kind": "check", "params": {}, **values},
            status=status,
            worker=worker_,
            heartbeat_at=now - ago,
        )
        session.add(made)
        return made

    minutes, hours = timedelta(minutes=5), timedelta(hours=3)
    dead_here = job(
        "running",
        f"{HOST}:{DEAD_PID}",
        minutes,
        kind="import",
        params={"batch_id": batch.id, "path": str(upload)},
    )
    elsewhere = job("running", "another-host:42", minutes)  # alive as far as we can tell
    silent = job("running", "another-host:43", hours)
    never_taken = job("queued", None, hours, runner="rq")
    waiting = job("queued", None, minutes, runner="rq")
    mine = job("running", worker(), hours)  # this process runs it
    finished = job("done", f"{HOST}:{DEAD_PID}", hours)
    session.commit()

    assert jobs.fail_stale_jobs(session) == 3
    session.expire_all()
    assert [j.status for j in (dead_here, silent, never_taken)] == ["failed"] * 3
    assert [j.status for j in (elsewhere, waiting, mine, finished)] == [
        "running",
        "queued",
        "running",
        "done",
    ]
    assert f"{HOST}:{DEAD_PID}" in dead_here.message and "stopped before it finished" in (
        dead_here.message
    )
    assert "feecheck worker" in never_taken.message and "队列" in never_taken.message
    # the import batch of the dead import job ends with it
    assert session.get(ImportBatch, batch.id).status == "failed"
    assert session.get(ImportBatch, batch.id).message == dead_here.message
    assert not upload.exists()
    assert jobs.fail_stale_jobs(session) == 0


def test_a_job_is_visible_to_its_user_and_admins_only(session) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(session, "owner")
    other = make_user(session, "other")
    admin = make_user(session, "root", role="admin", region_code=None)
    job = Job(kind="check", params={}, user_id=owner.id)
    session.add(job)
    session.flush()
    assert jobs.get_job(session, owner, job.id) is job
    assert jobs.get_job(session, admin, job.id) is job
    with pytest.raises(NotFound):
        jobs.get_job(session, other, job.id)
    with pytest.raises(NotFound):
        jobs.get_job(session, owner, job.id + 1000)


# --- across sessions, threads and processes: a database of the test's own -------------------


@pytest.fixture(scope="module")
def own_url(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database outside the rolled-back test transaction (threads, RQ)."""
    admin = None
    if engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('jobs') / 'jobs.db'}"
    else:
        name = f"feecheck_jobs_{uuid.uuid4().hex[:10]}"
        admin = make_engine(engine.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(engine.url).set(database=name).render_as_string(hide_password=False)
    fresh = make_engine(url)
    schema.upgrade(fresh)
    fresh.dispose()
    try:
        yield url
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


@pytest.fixture
def own(own_url: str) -> Iterator[Engine]:
    engine = make_engine(own_url)
    yield engine
    engine.dispose()


def test_progress_is_visible_from_another_session_while_the_job_runs(own, kinds) -> None:  # type: ignore[no-untyped-def]
    started, release = threading.Event(), threading.Event()

    def slow(job_session: Session, job: Job, report: jobs.ReportProgress) -> dict[str, Any]:
        report(1, 3)
        started.set()
        assert release.wait(30)
        report(3, 3)
        return {"slept": True}

    kinds("slow", slow)
    runner = jobs.ThreadRunner(make_session_factory(own))
    with Session(own) as session:
        job_id = jobs.enqueue(session, "slow", {}, None, runner).id
    try:
        assert started.wait(30)
        with Session(own) as other:  # another connection, as another web worker would read
            seen = other.get(Job, job_id)
            assert seen is not None and seen.status == "running"
            assert (seen.progress_done, seen.progress_total) == (1, 3)
            assert seen.worker == worker() and seen.heartbeat_at is not None
            assert jobs.status_of(other, seen)["finished"] is False
    finally:
        release.set()
        assert runner.join(30)
    with Session(own) as other:
        done = other.get(Job, job_id)
        assert done is not None and done.status == "done" and done.result == {"slept": True}
        assert (done.progress_done, done.progress_total) == (3, 3)


def test_progress_while_the_job_holds_the_write_lock(own, kinds) -> None:  # type: ignore[no-untyped-def]
    """An --atomic or dry-run import holds one long write transaction: on SQLite the figures
    wait in this process (and are written at the end); on PostgreSQL they get through."""
    holding, release = threading.Event(), threading.Event()
    code = f"K-{uuid.uuid4().hex[:8]}"

    def long_transaction(job_session: Session, job: Job, report: jobs.ReportProgress) -> None:
        begin_write(job_session, "test-long-transaction")
        make_kindergarten(job_session, code=code)
        report(5, 10)
        holding.set()
        assert release.wait(30)
        report(10, 10)
        job_session.rollback()  # a dry run

    kinds("long", long_transaction)
    runner = jobs.ThreadRunner(make_session_factory(own))
    with Session(own) as session:
        job_id = jobs.enqueue(session, "long", {}, None, runner).id
    try:
        assert holding.wait(30)
        with Session(own) as other:
            seen = other.get(Job, job_id)
            assert seen is not None and seen.status == "running"
            written = 0 if own.dialect.name == "sqlite" else 5
            assert seen.progress_done == written
            assert jobs.progress(other, seen) == (5, 10)  # this process holds the figure
            assert jobs.status_of(other, seen)["done"] == 5
    finally:
        release.set()
        assert runner.join(30)
    with Session(own) as other:
        done = other.get(Job, job_id)
        assert done is not None and done.status == "done"
        assert (done.progress_done, done.progress_total) == (10, 10)
        assert jobs.progress(other, done) == (10, 10)
        assert not other.scalar(select(Kindergarten.id).where(Kindergarten.code == code))


def _redis() -> Any:
    try:
        from redis import Redis
        from redis.exceptions import RedisError
    except ImportError:
        pytest.skip("the redis package is not installed")
    connection = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except (RedisError, OSError) as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return connection


def test_an_import_runs_through_rq_on_redis(own, own_url, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    redis = _redis()
    from rq import Queue, SimpleWorker

    # What `feecheck worker` has: the environment of the web app (perform_queued builds the app).
    monkeypatch.setenv("FEECHECK_DATABASE_URL", own_url)
    monkeypatch.setenv("FEECHECK_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("FEECHECK_SECRET_KEY", "rq-test")
    queue_name = f"feecheck-test-{uuid.uuid4().hex[:8]}"  # not a real worker's queue
    first, second = (f"R{uuid.uuid4().hex[:8]}" for _ in range(2))
    upload = tmp_path / "kgs.csv"
    upload.write_text(
        f"code,name,region_code,category\n{first},一园,110108,public\n{second},二园,110108,public\n",
        encoding="utf-8",
    )
    with Session(own, expire_on_commit=False) as session:
        user = make_user(session, f"rq-{uuid.uuid4().hex[:8]}", role="admin", region_code=None)
        session.commit()
        batch = start_batch(session, "kindergartens", upload, "kgs.csv", user, ImportOptions())
        runner = jobs.RqRunner(REDIS_URL, queue_name=queue_name)
        job = jobs.start_import(session, batch, upload, ImportOptions(), user, RULES, runner)
        assert (job.status, job.runner, job.worker) == ("queued", "rq", None)
        session.refresh(batch)
        assert batch.status == "pending" and batch.worker is None  # waiting, not dead
        job_id, batch_id = job.id, batch.id
    queue = Queue(queue_name, connection=redis)
    try:
        assert queue.count == 1
        with Session(own) as sweeper:
            assert jobs.fail_stale_jobs(sweeper) == 0  # a queued job is not stale
        SimpleWorker([queue], connection=redis).work(burst=True)
    finally:
        queue.delete(delete_jobs=True)
        redis.close()
    with Session(own) as other:
        done = other.get(Job, job_id)
        assert done is not None and done.status == "done", done.message if done else None
        assert done.result is not None and (done.result["created"], done.result["status"]) == (
            2,
            "committed",
        )
        assert done.worker == worker()  # a SimpleWorker runs the job in this process
        assert other.get(ImportBatch, batch_id).status == "committed"
        codes = set(
            other.scalars(select(Kindergarten.code).where(Kindergarten.code.in_((first, second))))
        )
        assert codes == {first, second}
    assert not upload.exists()
