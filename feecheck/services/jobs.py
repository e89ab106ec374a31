"""Long work (imports, checks, later report batches) as job rows that any process can follow.

A job is a row of `jobs`: its kind (a key of KINDS), its params (JSON), its status
(queued → running → done | failed), its progress, its result or its bilingual message. The
faces call `enqueue` (or `start_import` / `start_check`), which commits the row and hands its id
to a runner; whoever runs it calls `perform(job_id, session_factory)`, which never raises for
what happens inside the job and never leaves it running.

Runners:
- `InlineRunner`: now, in the calling process (small uploads, tests).
- `ThreadRunner` (the default, JOBS_RUNNER=thread): a thread of this process with a Session of
  its own. A restart kills the thread; the job is then failed by `fail_stale_jobs`.
- `RqRunner` (JOBS_RUNNER=rq): the id goes to the Redis queue "feecheck"; `feecheck worker`
  processes run it (RQ_TARGET builds the app with create_app() and calls perform). The worker
  needs the database and the instance folder (stored uploads) that the web uses.

Progress crosses processes through the job row (`progress_done`, `progress_total`,
`heartbeat_at`), written by `ProgressWriter` through a connection of its own in a short
transaction of its own, never through the job's Session: an import in --atomic or dry-run mode
holds one long transaction, and what it writes is invisible to anybody else until it ends.
- PostgreSQL: that separate short write always goes through (row locks are per row, and nobody
  holds the job's row while the job runs), so every web worker sees the figures as they come.
- SQLite: there is one write lock for the whole file, and the long import transaction holds it.
  The progress connection therefore runs with a busy timeout of 0: when the lock is held the
  write fails at once instead of waiting (and instead of stalling the job behind it), and the
  figure is kept in a process-local fallback. `progress()` shows that figure to requests served
  by the same process (the thread runner's web process); other processes see the last figure
  written. Every later report and the heartbeat tick (every second) try again, and the final
  figure is written with the result. With chunked imports (the default mode) each chunk commits,
  so the figures get through between chunks.
The heartbeat is written the same way at least every HEARTBEAT_SECONDS while a job runs: a job
on another host whose heartbeat stops is failed by `fail_stale_jobs` after
workers.STALE_AFTER; on this host the worker's pid decides.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from feecheck.domain.categories import Role
from feecheck.domain.periods import DATE_MAX, DATE_MIN, Period
from feecheck.domain.reasons import Refused, bilingual
from feecheck.engine.loader import RulesError
from feecheck.engine.taxonomy import load_taxonomy
from feecheck.models import ImportBatch, Job, User
from feecheck.models.base import utcnow
from feecheck.models.session import SQLITE_BUSY_TIMEOUT_MS
from feecheck.services import locks, reports, rules
from feecheck.services.check_workers import BatchTask, check_and_store, run_parallel_check
from feecheck.services.checking import CheckedBatch, CheckError, Scope, run_check
from feecheck.services.importing import ImportOptions, fail_stale_batches, run_import
from feecheck.services.locks import BATCHES, JOBS, begin_write
from feecheck.services.scope import NotFound, can_see
from feecheck.services.workers import STALE_AFTER, alive, worker

logger = logging.getLogger(__name__)

QUEUE = "feecheck"  # the RQ queue `feecheck worker` listens on
RQ_TARGET = "feecheck.worker.perform_queued"  # what an RQ worker runs: (job_id) -> None
RQ_JOB_TIMEOUT = int(STALE_AFTER.total_seconds())  # RQ's default (180 s) would kill imports
UNFINISHED = ("queued", "running")
HEARTBEAT_SECONDS = 30.0  # a running job writes its heartbeat at least this often
PROGRESS_EVERY = 0.5  # seconds between progress writes (the last figure is always written)
TICK = 1.0  # how often the heartbeat thread looks for a figure still to be written
FINISH_ATTEMPTS = 3  # tries at recording a job's outcome when the database stays locked

ReportProgress = Callable[[int, int], None]  # (done, total)
KindFunction = Callable[[Session, Job, ReportProgress], dict[str, Any] | None]
SessionFactory = Callable[[], Session]

# kind -> function(session, job, report_progress) -> result. The function reads job.params,
# commits its own work in `session` (never writing the job's row: perform and ProgressWriter
# do) and returns a JSON-able result; a refusal it can explain is raised as JobFailed (or any
# Refused). Add a kind with one line: KINDS["reports"] = ....
KINDS: dict[str, KindFunction] = {}
# kind -> what else must end when a job of that kind fails without having run to its end (its
# runner refused it, or its process died): e.g. the import batch it was for. Called inside the
# transaction that marks the job failed; job.message says why.
ABANDONED: dict[str, Callable[[Session, Job], None]] = {}


def kind(name: str) -> Callable[[KindFunction], KindFunction]:
    """Register a function in KINDS under `name` (a decorator)."""

    def register(function: KindFunction) -> KindFunction:
        KINDS[name] = function
        return function

    return register


class JobFailed(Refused):
    """A job cannot do its work; `en`/`zh` say why, `result` keeps what is known (a batch id)."""

    def __init__(self, en: str, zh: str = "", result: dict[str, Any] | None = None) -> None:
        super().__init__(en, zh)
        self.result = result


class RunnerUnavailable(Refused):
    """The runner cannot take the job (Redis unreachable, rq not installed)."""


# --- runners -------------------------------------------------------------------------------


class Runner(Protocol):
    name: str  # stored on the job: inline | thread | rq
    runs_here: bool  # the job runs in this process (its worker is known at once)

    def submit(self, job_id: int) -> None: ...


class InlineRunner:
    """Runs the job now, in the caller's process and thread, with a Session of its own."""

    name = "inline"
    runs_here = True

    def __init__(self, session_factory: SessionFactory) -> None:
        self.session_factory = session_factory

    def submit(self, job_id: int) -> None:
        perform(job_id, self.session_factory)


class ThreadRunner:
    """Runs each job in a thread of this process, with a Session of its own."""

    name = "thread"
    runs_here = True

    def __init__(self, session_factory: SessionFactory) -> None:
        self.session_factory = session_factory
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, job_id: int) -> None:
        thread = threading.Thread(
            target=perform, args=(job_id, self.session_factory), name=f"job-{job_id}", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the jobs started so far; True when every one has finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)


class RqRunner:
    """Puts the job's id on an RQ queue in Redis; `feecheck worker` runs it (RQ_TARGET)."""

    name = "rq"
    runs_here = False

    def __init__(self, redis_url: str, queue_name: str = QUEUE, target: str = RQ_TARGET) -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name
        self.target = target

    def submit(self, job_id: int) -> None:
        try:
            from redis import Redis
            from redis.exceptions import RedisError
            from rq import Queue
        except ImportError as exc:
            raise RunnerUnavailable(
                "the job queue needs the rq package (pip install rq)",
                "任务队列需要安装 rq（pip install rq）",
            ) from exc
        where = redacted(self.redis_url)
        try:
            connection = Redis.from_url(self.redis_url, socket_connect_timeout=5)
        except ValueError as exc:
            raise RunnerUnavailable(
                f"FEECHECK_JOBS_REDIS_URL is not a Redis URL: {where}",
                f"FEECHECK_JOBS_REDIS_URL 不是有效的 Redis 地址：{where}",
            ) from exc
        try:
            Queue(self.queue_name, connection=connection).enqueue(
                self.target,
                job_id,
                job_timeout=RQ_JOB_TIMEOUT,
                result_ttl=0,  # the result is kept on the job row
                description=f"feecheck job {job_id}",
            )
        except (RedisError, OSError) as exc:
            raise RunnerUnavailable(
                f"the job queue (Redis at {where}) cannot be reached: {first_line(exc)}",
                f"无法连接任务队列（Redis：{where}）",
            ) from exc
        finally:
            connection.close()


def make_runner(config: Mapping[str, Any], session_factory: SessionFactory) -> Runner:
    """The runner the configuration asks for: JOBS_RUNNER thread (default) or rq."""
    if config.get("JOBS_RUNNER", "thread") == "rq":
        return RqRunner(config["JOBS_REDIS_URL"])
    return ThreadRunner(session_factory)


def redacted(url: str) -> str:
    """A URL as it may be shown: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


# --- starting a job ------------------------------------------------------------------------


def enqueue(
    session: Session, kind: str, params: dict[str, Any], user: User | None, runner: Runner
) -> Job:
    """Record a job (status queued, committed) and hand it to `runner`; returns the job.

    A runner that cannot take it (the queue unreachable) leaves the job failed with the reason,
    never queued. With an inline runner the job has finished when this returns.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    fail_stale_jobs(session)
    begin_write(session, JOBS)
    now = utcnow()
    job = Job(
        kind=kind,
        status="queued",
        params=params,
        user_id=user.id if user else None,
        runner=runner.name,
        worker=worker() if runner.runs_here else None,  # an RQ worker names itself later
        heartbeat_at=now,
        created_at=now,
    )
    session.add(job)
    session.commit()
    job_id = job.id
    try:
        runner.submit(job_id)
    except Refused as exc:
        logger.warning("job %s (%s) could not be started: %s", job_id, kind, exc.en)
        _abandon(session, job_id, exc.text)
    except Exception as exc:
        logger.exception("job %s (%s) could not be started", job_id, kind)
        _abandon(
            session,
            job_id,
            bilingual(f"the job could not be started: {first_line(exc)}", "任务无法启动"),
        )
    session.expire(job)  # another session may have run it (inline) or failed it: read it again
    return job


def start_import(
    session: Session,
    batch: ImportBatch,
    path: Path,
    options: ImportOptions,
    user: User | None,
    rules_dir: Path,
    runner: Runner,
) -> Job:
    """Run a recorded import batch (status pending, its file stored at `path`) as a job.

    The batch takes the job's worker and heartbeat first, so that fail_stale_batches judges it
    like the job (a batch waiting in the RQ queue is not "left by a dead process"). When the
    runner refuses the job, the batch fails with the same message (ABANDONED["import"]).
    """
    begin_write(session, BATCHES)
    batch.worker = worker() if runner.runs_here else None
    batch.heartbeat_at = utcnow()
    session.commit()
    params = {
        "batch_id": batch.id,
        "path": str(path),
        "record_type": batch.record_type,
        "options": dataclasses.asdict(options),
        "user_id": user.id if user else None,
        "rules_dir": str(rules_dir),
    }
    return enqueue(session, "import", params, user, runner)


def start_check(
    session: Session,
    user: User | None,
    runner: Runner,
    *,
    period_from: str,
    period_to: str | None,
    as_of: date,
    rules_dir: Path,
    region_code: str | None = None,
    kindergarten_code: str | None = None,
    workers: int = 1,
) -> Job:
    """Run a check of the months period_from..period_to (YYYY-MM) as a job; `workers` > 1
    spreads its kindergarten batches over processes (services/check_workers.py)."""
    params = {
        "workers": workers,
        "period_from": period_from,
        "period_to": period_to or period_from,
        "region_code": region_code,
        "kindergarten_code": kindergarten_code,
        "as_of": as_of.isoformat(),
        "user_id": user.id if user else None,
        "rules_dir": str(rules_dir),
    }
    return enqueue(session, "check", params, user, runner)


# --- running a job -------------------------------------------------------------------------


def perform(job_id: int, session_factory: SessionFactory) -> None:
    """Run a queued job to its end: done with its result, or failed with a bilingual message.

    Never raises for what happens inside the job (an exception is logged and the job fails);
    a job that is not queued any more (run already, or failed as stale) is left alone.
    """
    session = session_factory()
    key = _fallback_key(session, job_id)
    try:
        job = _claim(session, job_id)
        if job is None:
            return
        job_kind = job.kind
        writer = ProgressWriter(_engine_of(session), job_id)
        beat = _Heartbeat(writer, f"job-{job_id}-heartbeat")
        status, result, message = "done", None, None
        try:
            function = KINDS.get(job_kind)
            if function is None:
                raise JobFailed(f"unknown job kind {job_kind!r}", f"未知的任务类型 {job_kind}")
            result = function(session, job, writer.report) or {}
            session.commit()  # what the kind left open is part of its work
        except BaseException as exc:
            session.rollback()
            status = "failed"
            result, message = reason(exc)
            if _unexpected(exc):
                logger.exception("job %s (%s) failed", job_id, job_kind)
            if not isinstance(exc, Exception):  # interrupted: record it, then let it stop us
                beat.stop()
                _finish(session, job_id, status, result, message, writer)
                raise
        finally:
            beat.stop()
        _finish(session, job_id, status, result, message, writer)
    finally:
        with _fallback_lock:
            _fallback.pop(key, None)
        session.close()


def _claim(session: Session, job_id: int) -> Job | None:
    """Mark a queued job running in this process; None if it is gone or not queued."""
    for attempt in range(FINISH_ATTEMPTS):
        try:
            begin_write(session, JOBS)
            job = session.get(Job, job_id, populate_existing=True)
            if job is None or job.status != "queued":
                session.rollback()
                logger.info("job %s is %s: not run", job_id, job.status if job else "missing")
                return None
            now = utcnow()
            job.status, job.worker = "running", worker()
            job.started_at = job.heartbeat_at = now
            session.commit()
            return job
        except locks.Busy:
            logger.warning("job %s: the database is busy (attempt %d)", job_id, attempt + 1)
        except SQLAlchemyError:
            session.rollback()
            logger.exception("job %s could not be started", job_id)
            return None
    logger.error("job %s could not be started: the database stayed busy", job_id)
    return None


def reason(exc: BaseException) -> tuple[dict[str, Any] | None, str]:
    """(result, message) of a job that raised `exc`: a reason a user can act on, never a trace."""
    if isinstance(exc, JobFailed):
        return exc.result, exc.text
    if isinstance(exc, Refused):  # Busy, FileRefused, ...
        return None, exc.text
    if isinstance(exc, SQLAlchemyError) and locks.is_busy(exc):
        return None, locks.busy(JOBS).text
    if isinstance(exc, SQLAlchemyError):
        return None, bilingual(f"database error: {first_line(exc)}", "数据库错误")
    if isinstance(exc, Exception):
        return None, bilingual(f"internal error: {first_line(exc)}", "内部错误")
    return None, bilingual("interrupted", "任务被中断")


def _unexpected(exc: BaseException) -> bool:
    """An exception worth a traceback in the log (not a reason the job gives its user)."""
    if isinstance(exc, Refused):
        return False
    return isinstance(exc, Exception) and not (
        isinstance(exc, SQLAlchemyError) and locks.is_busy(exc)
    )


def _finish(
    session: Session,
    job_id: int,
    status: str,
    result: dict[str, Any] | None,
    message: str | None,
    writer: ProgressWriter | None = None,
) -> None:
    """Record a job's outcome (and its last progress figure) in the job's own Session.

    An outcome the database refuses (a result that is not JSON) is recorded as a failure
    instead; only a database that stays locked leaves the job for fail_stale_jobs."""
    for attempt in range(FINISH_ATTEMPTS):
        try:
            begin_write(session, JOBS)
            job = session.get(Job, job_id, populate_existing=True)
            if job is None:
                session.rollback()
                return
            now = utcnow()
            job.status, job.result, job.message = status, result, message
            job.finished_at = job.heartbeat_at = now
            if writer is not None:
                job.progress_done, job.progress_total = writer.figures()
            session.commit()
            return
        except locks.Busy:
            logger.warning("job %s: the database is busy (attempt %d)", job_id, attempt + 1)
        except Exception as exc:  # the driver or the JSON encoder refused the outcome
            session.rollback()
            if isinstance(exc, SQLAlchemyError) and locks.is_busy(exc):
                logger.warning("job %s: the database is busy (attempt %d)", job_id, attempt + 1)
                continue
            logger.exception("job %s: its outcome could not be stored", job_id)
            status, result = "failed", None
            message = bilingual(
                f"the job's outcome could not be stored: {first_line(exc)}", "任务结果无法保存"
            )
    logger.error("job %s: its outcome (%s) could not be recorded", job_id, status)


def _abandon(session: Session, job_id: int, message: str) -> None:
    """Fail a job that did not run to its end, and what hangs on it (ABANDONED)."""
    session.rollback()
    begin_write(session, JOBS)
    job = session.get(Job, job_id, populate_existing=True)
    if job is not None and job.status in UNFINISHED:
        _mark_abandoned(session, job, message, utcnow())
    session.commit()


def _mark_abandoned(session: Session, job: Job, message: str, now: datetime) -> None:
    job.status, job.message, job.finished_at = "failed", message, now
    cleanup = ABANDONED.get(job.kind)
    if cleanup is not None:
        cleanup(session, job)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind  # type: ignore[return-value]


# --- progress ------------------------------------------------------------------------------

# (database, job id) -> (done, total) that could not be written yet (SQLite, lock held).
_fallback: dict[tuple[str, int], tuple[int, int]] = {}
_fallback_lock = threading.Lock()


def _fallback_key(session: Session, job_id: int) -> tuple[str, int]:
    return str(_engine_of(session).url), job_id


class ProgressWriter:
    """Writes a running job's progress and heartbeat to its row, through a connection of its own
    in a short transaction of its own (see the module docstring); keeps a figure it could not
    write in the process-local fallback and writes it at the next chance."""

    def __init__(self, engine: Engine, job_id: int) -> None:
        self.engine = engine
        self.job_id = job_id
        self.key = (str(engine.url), job_id)
        self.done = self.total = 0
        self._pending = False  # a figure not written yet
        self._tried = 0.0  # monotonic time of the last write attempt
        self._written = time.monotonic()  # ... and of the last write that went through
        self._lock = threading.Lock()

    def report(self, done: int, total: int) -> None:
        """The job has done `done` of `total` (an estimate; never below done)."""
        with self._lock:
            self.done, self.total = done, max(total, done)
            self._pending = True
            if self._tried == 0.0 or time.monotonic() - self._tried >= PROGRESS_EVERY:
                self._write()
            else:
                self._keep()

    def tick(self) -> None:
        """Write a figure still pending, or the heartbeat when it is due."""
        with self._lock:
            now = time.monotonic()
            if (self._pending and now - self._tried >= PROGRESS_EVERY) or (
                now - self._written >= HEARTBEAT_SECONDS
            ):
                self._write()

    def figures(self) -> tuple[int, int]:
        with self._lock:
            return self.done, self.total

    def _keep(self) -> None:
        with _fallback_lock:
            _fallback[self.key] = (self.done, self.total)

    def _write(self) -> None:
        self._tried = time.monotonic()
        try:
            written = write_progress(self.engine, self.job_id, self.done, self.total)
        except SQLAlchemyError as exc:  # SQLite: the write lock is held (busy timeout 0)
            logger.debug("job %s: progress kept in this process: %s", self.job_id, exc)
            written = False
        except Exception:  # a progress figure never stops the job
            logger.warning("job %s: progress not written", self.job_id, exc_info=True)
            written = False
        if written:
            self._pending = False
            self._written = self._tried
            with _fallback_lock:
                _fallback.pop(self.key, None)
        else:
            self._keep()


def write_progress(engine: Engine, job_id: int, done: int, total: int) -> bool:
    """Write a running job's figures and heartbeat in a short transaction on a connection of its
    own; False when the row is not visible (yet) or not running. On SQLite the write does not
    wait for the lock: it raises at once (OperationalError) when another writer holds it."""
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(progress_done=done, progress_total=total, heartbeat_at=utcnow())
    )
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            raw = connection.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA busy_timeout = 0")
            try:
                connection.execution_options(sqlite_begin="IMMEDIATE")
                with connection.begin():
                    return connection.execute(statement).rowcount == 1
            finally:
                raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL lock_timeout = '2s'"))
            return connection.execute(statement).rowcount == 1


class _Heartbeat:
    """A thread that calls writer.tick() every TICK seconds while a job runs."""

    def __init__(self, writer: ProgressWriter, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(writer,), name=name, daemon=True)
        self._thread.start()

    def _run(self, writer: ProgressWriter) -> None:
        while not self._stop.wait(TICK):
            writer.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


def progress(session: Session, job: Job) -> tuple[int, int]:
    """(done, total) of a job: its row's figures, or newer ones that this process holds because
    it could not write them yet (SQLite while the job holds the write lock)."""
    if job.status == "running":
        with _fallback_lock:
            held = _fallback.get(_fallback_key(session, job.id))
        if held is not None:
            return held
    return job.progress_done, job.progress_total


# --- reading jobs --------------------------------------------------------------------------


def get_job(session: Session, user: User, job_id: int) -> Job:
    """A job, for the user who started it or an admin; NotFound otherwise."""
    job = session.get(Job, job_id)
    if job is None or (job.user_id != user.id and user.role != Role.ADMIN.value):
        raise NotFound(job_id)
    return job


def job_for_batch(session: Session, batch_id: int) -> Job | None:
    """The latest import job of an import batch (None for batches imported without one)."""
    return session.scalars(
        select(Job)
        .where(Job.kind == "import", Job.params["batch_id"].as_integer() == batch_id)
        .order_by(Job.id.desc())
        .limit(1)
    ).first()


def status_of(session: Session, job: Job) -> dict[str, Any]:
    """What a page polling a job needs to know, as JSON."""
    done, total = progress(session, job)
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "finished": job.status not in UNFINISHED,
        "done": done,
        "total": total,
        "message": job.message,
        "result": job.result,
    }


# --- jobs that outlived their process --------------------------------------------------------


def _stale(job: Job, now: datetime) -> bool:
    if job.worker == worker():  # this process runs it: a thread here, or the caller itself
        return False
    return not alive(job.worker, job.heartbeat_at or job.created_at, now)


def _stale_message(job: Job) -> str:
    hours = int(STALE_AFTER / timedelta(hours=1))
    if job.status == "queued" and job.worker is None:
        return bilingual(
            f"no worker took this job from the queue within {hours} hours: make sure "
            "`feecheck worker` is running, then start it again",
            f"任务在队列中等待超过 {hours} 小时仍无人执行：请确认 `feecheck worker` 正在运行，"
            "然后重新开始",
        )
    return bilingual(
        f"the process running this job ({job.worker or '-'}) stopped before it finished; "
        "start it again",
        f"运行该任务的进程（{job.worker or '-'}）在完成前停止；请重新开始",
    )


def fail_stale_jobs(session: Session) -> int:
    """Mark failed the jobs left queued or running by a process that has died (same host: its
    pid is gone; another host or the RQ queue: no heartbeat for workers.STALE_AFTER).

    Called before every enqueue and when the web app starts serving; returns how many were
    marked. Reads first: the write lock is taken only when there is something to mark.
    """
    now = utcnow()
    unfinished = select(Job).where(Job.status.in_(UNFINISHED))
    candidates = [job.id for job in session.scalars(unfinished) if _stale(job, now)]
    if not candidates:
        return 0
    begin_write(session, JOBS)
    marked = 0
    for job in session.scalars(
        unfinished.where(Job.id.in_(candidates)).execution_options(populate_existing=True)
    ):
        if not _stale(job, now):  # it moved on while we were reading
            continue
        _mark_abandoned(session, job, _stale_message(job), now)
        marked += 1
    session.commit()
    if marked:
        logger.warning("%d job(s) left behind by a stopped process marked failed", marked)
    return marked


def fail_stale_work(session: Session) -> int:
    """fail_stale_jobs, then importing.fail_stale_batches: what a server calls when it starts
    serving (the batches of a dead import job are failed by the second)."""
    return fail_stale_jobs(session) + fail_stale_batches(session)


# --- kinds ---------------------------------------------------------------------------------


def _user(session: Session, params: Mapping[str, Any]) -> User | None:
    user_id = params.get("user_id")
    return session.get(User, user_id) if user_id is not None else None


def _fail_batch(session: Session, batch_id: int, message: str) -> None:
    """A batch whose job failed outside the importer ends failed too, never pending."""
    session.rollback()
    begin_write(session, BATCHES)
    batch = session.get(ImportBatch, batch_id, populate_existing=True)
    if batch is not None and batch.status in ("pending", "running"):
        batch.status, batch.message, batch.finished_at = "failed", message, utcnow()
    session.commit()


def _abandon_import(session: Session, job: Job) -> None:
    """The batch of an import job that will not run ends failed too; its stored file goes."""
    batch = session.get(ImportBatch, job.params.get("batch_id"))
    if batch is not None and batch.status in ("pending", "running"):
        batch.status, batch.message, batch.finished_at = "failed", job.message, utcnow()
    if job.params.get("path"):
        Path(job.params["path"]).unlink(missing_ok=True)


ABANDONED["import"] = _abandon_import


@kind("import")
def import_job(session: Session, job: Job, report_progress: ReportProgress) -> dict[str, Any]:
    """Import the stored file of a recorded batch (services.importing.run_import)."""
    params = job.params
    batch_id = params["batch_id"]
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise JobFailed(f"import batch {batch_id} does not exist", f"导入批次 {batch_id} 不存在")
    if batch.status != "pending":
        raise JobFailed(
            f"import batch {batch_id} is {batch.status} already; upload the file again",
            f"导入批次 {batch_id} 已是 {batch.status} 状态；请重新上传文件",
            {"batch_id": batch_id},
        )
    path = Path(params["path"])
    known = {f.name for f in dataclasses.fields(ImportOptions)}
    options = ImportOptions(**{k: v for k, v in params.get("options", {}).items() if k in known})
    try:
        report = run_import(
            session,
            params["record_type"],
            path,
            taxonomy=load_taxonomy(Path(params["rules_dir"])),
            user=_user(session, params),
            file_name=batch.file_name,
            options=options,
            progress=report_progress,
            batch=batch,
        )
    except BaseException as exc:  # the importer ends its batch itself; not what went before it
        _fail_batch(session, batch_id, reason(exc)[1])
        raise
    if report.status != "dry_run":  # committed, rejected or unreadable: the file is done with
        path.unlink(missing_ok=True)
    result = {
        "batch_id": batch_id,
        "status": report.status,
        "rows": report.rows_total,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
    }
    if report.status == "failed":
        raise JobFailed(report.message or "the import failed", "", result)
    return result


@kind("check")
def check_job(session: Session, job: Job, report_progress: ReportProgress) -> dict[str, Any]:
    """Check a region or kindergarten for a range of months and store the findings."""
    params = job.params
    user = _user(session, params)
    try:
        first = Period.parse(params["period_from"])
        last = Period.parse(params.get("period_to") or params["period_from"])
        as_of = date.fromisoformat(params["as_of"]) if params.get("as_of") else date.today()
    except ValueError as exc:
        raise JobFailed(str(exc), f"检查期间或日期无效：{exc}") from exc
    if last < first:
        raise JobFailed(
            f"the range ends ({last}) before it starts ({first})", "检查期间的终止月早于起始月"
        )
    for month in (first, last):
        if not DATE_MIN <= month.first_day <= DATE_MAX:
            raise JobFailed(
                f"{month}: feecheck checks months from {DATE_MIN:%Y-%m} to {DATE_MAX:%Y-%m}",
                f"{month}：只能检查 {DATE_MIN:%Y-%m} 至 {DATE_MAX:%Y-%m} 的月份",
            )
    region = params.get("region_code")
    if user is not None and region and not can_see(user, region):
        raise JobFailed(f"region {region} is outside your region", f"地区 {region} 不在您的辖区内")
    try:
        ruleset = rules.load(Path(params["rules_dir"]))
    except RulesError as exc:
        raise JobFailed(
            f"rules/ has {len(exc.problems)} problem(s), the first: {exc.problems[0]}",
            f"规则目录有 {len(exc.problems)} 处错误，第一处：{exc.problems[0]}",
        ) from exc
    scope = Scope(first, last, region, params.get("kindergarten_code"))
    progress = _CheckProgress(report_progress)
    workers = int(params.get("workers") or 1)
    try:
        if workers > 1:
            outcome = run_parallel_check(
                session,
                ruleset,
                Path(params["rules_dir"]),
                scope,
                as_of,
                workers,
                user,
                sink=progress,
            )
        else:
            outcome = run_check(session, ruleset, scope, as_of, user, sink=progress)
    except CheckError as exc:
        raise JobFailed(str(exc), f"无法检查：{exc}") from exc
    session.commit()
    return {
        "check_run_id": outcome.run.id,
        "kindergartens": outcome.checked,
        "findings": outcome.run.findings_count,
        "created": outcome.created,
        "updated": outcome.updated,
        "resolved": outcome.resolved,
        "reopened": outcome.reopened,
        "not_evaluated": len(outcome.not_evaluated),
    }


@kind("check_batch")
def check_batch_job(session: Session, job: Job, report_progress: ReportProgress) -> dict[str, Any]:
    """One batch of kindergartens of a check spread over the queue (services/check_queue.py):
    judged, its findings stored and committed; the result is what the coordinator sums."""
    params = job.params
    try:
        ruleset = rules.load(Path(params["rules_dir"]))
    except RulesError as exc:
        raise JobFailed(
            f"rules/ has {len(exc.problems)} problem(s), the first: {exc.problems[0]}",
            f"规则目录有 {len(exc.problems)} 处错误，第一处：{exc.problems[0]}",
        ) from exc
    task = BatchTask.from_params(ruleset, params)
    report_progress(0, len(task.kg_ids))
    try:
        batch = check_and_store(session, ruleset, task)
    except CheckError as exc:
        raise JobFailed(str(exc), f"无法检查：{exc}") from exc
    report_progress(len(task.kg_ids), len(task.kg_ids))
    severities: dict[str, int] = {}
    refunds_due = Decimal(0)
    for finding in batch.findings:
        severities[finding.severity] = severities.get(finding.severity, 0) + 1
        refunds_due += finding.amount_due or 0
    return {
        "check_run_id": task.run_id,
        "kindergartens": len(batch.kindergartens),
        "with_findings": len({f.kindergarten_code for f in batch.findings}),
        "findings": len(batch.findings),
        "by_severity": severities,
        "refunds_due": f"{refunds_due:.2f}",
        **dataclasses.asdict(batch.counts),
    }


class _CheckProgress:
    """A check's sink in a job: kindergartens judged so far, as the job's progress."""

    def __init__(self, report_progress: ReportProgress) -> None:
        self.report, self.total, self.done = report_progress, 0, 0

    def start(self, kindergartens: int, skipped: list[Any]) -> None:
        self.total = kindergartens
        self.report(0, max(kindergartens, 1))

    def batch(self, batch: CheckedBatch) -> None:
        self.done += len(batch.kindergartens)
        self.report(self.done, max(self.total, 1))


@kind("reports")
def reports_job(session: Session, job: Job, report_progress: ReportProgress) -> dict[str, Any]:
    """Every kindergarten's monthly report of a region, as PDFs zipped into one archive (the
    region is checked once first)."""
    params = job.params
    user = _user(session, params)
    try:
        period = Period.parse(params["period"])
        generated_on = date.fromisoformat(params["generated_on"])
        ruleset = rules.load(Path(params["rules_dir"]))
    except ValueError as exc:
        raise JobFailed(str(exc), f"报告月份或日期无效：{exc}") from exc
    except RulesError as exc:
        raise JobFailed(
            f"rules/ has {len(exc.problems)} problem(s), the first: {exc.problems[0]}",
            f"规则目录有 {len(exc.problems)} 处错误，第一处：{exc.problems[0]}",
        ) from exc
    region = params["region_code"]
    folder = Path(params["folder"]) / str(job.id)
    options = reports.ReportOptions(
        generated_on, Path(params["offices_file"]) if params.get("offices_file") else None
    )
    try:
        written = reports.each_pdf(
            session, user, ruleset, region, period, options, folder / "pdf", report_progress
        )
    except NotFound as exc:
        raise JobFailed(
            f"region {region} is outside your region", f"地区 {region} 不在您的辖区内"
        ) from exc
    archive = folder / f"reports-{region}-{period}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in written:
            # a fixed date in the archive too: the same reports give the same zip
            stamp = (generated_on.year, generated_on.month, generated_on.day, 0, 0, 0)
            info = zipfile.ZipInfo(path.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, path.read_bytes())
    for path in written:
        path.unlink()
    return {"reports": len(written), "archive": str(archive), "period": str(period)}


def start_reports(
    session: Session,
    user: User | None,
    runner: Runner,
    *,
    region_code: str,
    period: str,
    generated_on: date,
    rules_dir: Path,
    offices_file: Path | None,
    instance_path: Path,
) -> Job:
    """Every kindergarten's report of a region, as a job; the archive lands in the instance
    folder (`reports/<job id>/`), downloaded from the job's page."""
    job = enqueue(
        session,
        "reports",
        {
            "region_code": region_code,
            "period": period,
            "generated_on": generated_on.isoformat(),
            "rules_dir": str(rules_dir),
            "offices_file": str(offices_file) if offices_file else None,
            "user_id": user.id if user else None,
            "folder": str(Path(instance_path) / "reports"),
        },
        user,
        runner,
    )
    return job


def archive_of(job: Job) -> Path | None:
    """The archive of a finished reports job, if it is still there."""
    if job.kind != "reports" or job.status != "done" or not job.result:
        return None
    path = Path(str(job.result.get("archive", "")))
    folder = Path(str(job.params.get("folder", ""))) / str(job.id)
    if not path.is_file() or path.parent != folder:  # only what the job itself wrote
        return None
    return path
