"""A check spread over worker processes: batches of kindergartens, one transaction each.

The coordinator (`feecheck check --workers N`, a check job with CHECK_WORKERS > 1) plans the run
(checking.plan_check: the kindergartens in code order, the windows, what is not evaluated),
writes its CheckRun row and commits it, then hands batches of kindergarten ids to N processes.
Each process has its own connection: it loads its batch's facts, runs the rules and stores the
findings in a transaction of its own under the findings lock (held only while storing, so the
workers evaluate at the same time and take turns to write), then sends the batch back. The
coordinator passes the batches to its sink in code order, at most 2 × N in flight (memory does
not grow with the scope), and finishes the run with the summed counts.

A one-process check is one transaction; a spread one is one transaction per batch. If a batch
fails, the batches already stored stay stored (each is whole: every kindergarten in it was
judged for every month and rule), the run is left unfinished (no finished_at), and the error says
how far it got; checking the same scope again completes it, since storing is idempotent (a
finding is found again by its fingerprint, never duplicated).

On N machines: every worker needs only the database URL and the rules folder, so the same batches
can run as jobs on a queue (services/jobs.py with JOBS_RUNNER=rq and `feecheck worker` on each
machine) against one PostgreSQL; README "Province scale" says how.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from feecheck.domain.periods import Period
from feecheck.domain.reasons import Refused
from feecheck.engine.loader import load_ruleset
from feecheck.engine.specs import Ruleset
from feecheck.models import CheckRun, User
from feecheck.models.session import make_engine
from feecheck.services.checking import (
    BATCH,
    CheckedBatch,
    CheckError,
    CheckOutcome,
    CheckPlan,
    CheckSink,
    FindingsCollector,
    Scope,
    add_counts,
    evaluate_batch,
    finish_run,
    make_plan,
    new_run,
    outcome_of,
    plan_check,
)
from feecheck.services.findings import StoreCounts, store_findings
from feecheck.services.locks import FINDINGS, begin_write

MIN_BATCH = 20  # kindergartens: below this a batch costs more in round trips than it checks


@dataclasses.dataclass(frozen=True)
class BatchTask:
    run_id: int
    plan: CheckPlan  # without its kg_ids: each task carries its own
    kg_ids: list[int]
    ruleset_hash: str

    def to_params(self, rules_dir: Path) -> dict[str, Any]:
        """The task as a job's JSON params (a batch on the queue: services/jobs.py)."""
        scope = self.plan.scope
        return {
            "run_id": self.run_id,
            "kg_ids": self.kg_ids,
            "ruleset_hash": self.ruleset_hash,
            "rules_dir": str(rules_dir),
            "period_from": str(scope.period_from),
            "period_to": str(scope.period_to),
            "region_code": scope.region_code,
            "kindergarten_code": scope.kindergarten_code,
            "as_of": self.plan.as_of.isoformat(),
            "rule_ids": sorted(self.plan.rule_ids) if self.plan.rule_ids is not None else None,
        }

    @classmethod
    def from_params(cls, ruleset: Ruleset, params: dict[str, Any]) -> BatchTask:
        scope = Scope(
            Period.parse(params["period_from"]),
            Period.parse(params["period_to"]),
            params.get("region_code"),
            params.get("kindergarten_code"),
        )
        rule_ids = set(params["rule_ids"]) if params.get("rule_ids") is not None else None
        plan = make_plan(ruleset, scope, date.fromisoformat(params["as_of"]), rule_ids, [])
        return cls(int(params["run_id"]), plan, list(params["kg_ids"]), params["ruleset_hash"])


def check_and_store(
    session: Session,
    ruleset: Ruleset,
    task: BatchTask,
    item_key: Callable[[str], str] | None = None,
) -> CheckedBatch:
    """Judge one batch and store its findings in a transaction of its own (committed here)."""
    if ruleset.hash != task.ruleset_hash:
        raise CheckError("rules/ changed while the check ran; check again")
    batch, evaluated = evaluate_batch(session, ruleset, task.plan, task.kg_ids, item_key)
    run = session.get(CheckRun, task.run_id)
    if run is None:
        raise CheckError(f"check run {task.run_id} is not in the database")
    begin_write(session, FINDINGS)
    batch.counts = store_findings(session, run, evaluated, task.plan.as_of, batch.findings)
    session.commit()
    return batch


_worker: dict[str, Any] = {}  # per worker process: engine, ruleset, item_key


def _start_worker(url: str, rules_dir: str) -> None:
    ruleset = load_ruleset(Path(rules_dir))
    _worker.update(
        engine=make_engine(url),
        ruleset=ruleset,
        item_key=lru_cache(maxsize=65536)(ruleset.taxonomy.item_key),
    )


def check_batch(task: BatchTask) -> CheckedBatch:
    """In a worker process: check_and_store with the process's own connection.

    Errors come back as CheckError with one line (a database exception may not survive the
    trip between processes)."""
    try:
        with Session(_worker["engine"]) as session:
            return check_and_store(session, _worker["ruleset"], task, _worker["item_key"])
    except Refused as exc:
        raise CheckError(exc.text) from None
    except SQLAlchemyError as exc:
        raise CheckError(f"database error: {str(exc).splitlines()[0][:300]}") from None


def batch_size_for(kindergartens: int, workers: int) -> int:
    """Batches small enough that every worker gets several (a slow batch does not leave the
    others idle at the end), large enough that a batch's queries pay."""
    per_worker = -(-kindergartens // (workers * 4))
    return max(MIN_BATCH, min(BATCH, per_worker))


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def run_parallel_check(
    session: Session,
    ruleset: Ruleset,
    rules_dir: Path,
    scope: Scope,
    as_of: date,
    workers: int,
    user: User | None = None,
    rule_ids: set[str] | None = None,
    sink: CheckSink | None = None,
    batch_size: int | None = None,
) -> CheckOutcome:
    """Check the scope with `workers` processes (see the module docstring); the run row is
    committed first, each batch by its worker; the caller commits the finished run."""
    plan = plan_check(session, ruleset, scope, as_of, user, rule_ids)
    collector = FindingsCollector() if sink is None else None
    out: CheckSink = sink if sink is not None else collector  # type: ignore[assignment]
    out.start(len(plan.kg_ids), plan.skipped)
    run = new_run(plan, ruleset, user)
    session.add(run)
    session.commit()  # the workers' findings refer to it
    run_id = run.id
    session.commit()  # and no read transaction stays open while the workers write
    counts = StoreCounts()
    found = 0
    size = batch_size or batch_size_for(len(plan.kg_ids), workers)
    bare = dataclasses.replace(plan, kg_ids=[])
    tasks = (BatchTask(run_id, bare, ids, ruleset.hash) for ids in _chunks(plan.kg_ids, size))
    url = session.get_bind().url.render_as_string(hide_password=False)
    done = 0
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),  # no inherited connections
        initializer=_start_worker,
        initargs=(url, str(rules_dir)),
    ) as pool:
        pending: deque[Future[CheckedBatch]] = deque()
        for task in tasks:
            pending.append(pool.submit(check_batch, task))
            if len(pending) >= 2 * workers:
                break
        try:
            while pending:
                batch = pending.popleft().result()
                task = next(tasks, None)
                if task is not None:
                    pending.append(pool.submit(check_batch, task))
                add_counts(counts, batch.counts)
                found += len(batch.findings)
                done += len(batch.kindergartens)
                out.batch(batch)
        except Exception as exc:
            for future in pending:
                future.cancel()
            raise CheckError(
                f"the check stopped: {exc}. At least {done} of {len(plan.kg_ids)} kindergartens "
                f"were judged and stored; run {run_id} is left unfinished; check the same scope "
                "again to complete it"
            ) from None
    begin_write(session, FINDINGS)  # SQLite: a write transaction, not an upgraded read
    finish_run(run, counts, found)
    return outcome_of(run, collector, counts, plan)
