"""A check spread over the job queue: one job per batch of kindergartens, on as many machines as
run `feecheck worker`.

The coordinator (`feecheck check --queue`) plans the run and commits its CheckRun row, as
check_workers does, then enqueues one `check_batch` job per batch through the jobs service
(services/jobs.py): with JOBS_RUNNER=rq they go to Redis and any `feecheck worker` process on any
machine that reaches the database takes them; with the default runner they run in threads of
this process (no extra service, no parallelism). Each job stores its batch in a transaction of its
own and keeps its counts on its job row; the coordinator waits for every job, sums them and
finishes the run. A failed job (or one whose worker died: jobs.fail_stale_jobs) stops the wait
with the reason; the batches stored stay stored, the run is left unfinished, and checking the
same scope again completes it.

The findings themselves stay in the database (the web's findings pages and exports read them);
the coordinator prints totals, not a province's findings.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.engine.specs import Ruleset
from feecheck.models import CheckRun, Job, User
from feecheck.services import jobs
from feecheck.services.check_workers import BatchTask
from feecheck.services.checking import (
    BATCH,
    CheckError,
    Scope,
    add_counts,
    finish_run,
    new_run,
    plan_check,
)
from feecheck.services.findings import StoreCounts
from feecheck.services.locks import FINDINGS, begin_write


@dataclass
class QueuedOutcome:
    run: CheckRun
    checked: int  # kindergartens
    with_findings: int  # kindergartens with at least one finding
    counts: StoreCounts
    by_severity: dict[str, int] = field(default_factory=dict)
    refunds_due: Decimal = Decimal(0)
    jobs: list[int] = field(default_factory=list)

    @property
    def has_violations(self) -> bool:
        return self.by_severity.get("violation", 0) > 0


def run_queued_check(
    session: Session,
    ruleset: Ruleset,
    rules_dir: Path,
    scope: Scope,
    as_of: date,
    runner: jobs.Runner,
    user: User | None = None,
    rule_ids: set[str] | None = None,
    batch_size: int = BATCH,
    poll_seconds: float = 1.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> QueuedOutcome:
    """Enqueue the scope's batches as jobs, wait for them, finish the run (the caller commits)."""
    plan = plan_check(session, ruleset, scope, as_of, user, rule_ids)
    run = new_run(plan, ruleset, user)
    session.add(run)
    session.commit()
    run_id = run.id
    bare = dataclasses.replace(plan, kg_ids=[])
    job_ids = []
    for start in range(0, len(plan.kg_ids), batch_size):
        task = BatchTask(run_id, bare, plan.kg_ids[start : start + batch_size], ruleset.hash)
        job = jobs.enqueue(session, "check_batch", task.to_params(rules_dir), user, runner)
        job_ids.append(job.id)
    outcome = QueuedOutcome(run, len(plan.kg_ids), 0, StoreCounts(), jobs=job_ids)
    while True:
        rows = session.execute(
            select(Job.id, Job.status, Job.result, Job.message).where(Job.id.in_(job_ids))
        ).all()
        session.commit()  # no read transaction is kept open while the jobs write
        done = [row for row in rows if row.status == "done"]
        failed = [row for row in rows if row.status == "failed"]
        if on_progress:
            on_progress(len(done), len(job_ids))
        if failed:
            first = failed[0]
            raise CheckError(
                f"batch job {first.id} failed: {first.message}. {len(done)} of {len(job_ids)} "
                f"batches were stored; run {run_id} is left unfinished; check the same scope "
                "again to complete it"
            )
        if len(done) == len(job_ids):
            break
        jobs.fail_stale_jobs(session)  # a worker that died fails its job, and so the wait
        time.sleep(poll_seconds)
    found = 0
    for row in done:
        result = row.result or {}
        add_counts(
            outcome.counts,
            StoreCounts(
                result.get("created", 0),
                result.get("updated", 0),
                result.get("resolved", 0),
                result.get("reopened", 0),
            ),
        )
        found += result.get("findings", 0)
        outcome.with_findings += result.get("with_findings", 0)
        outcome.refunds_due += Decimal(result.get("refunds_due", "0"))
        for severity, n in (result.get("by_severity") or {}).items():
            outcome.by_severity[severity] = outcome.by_severity.get(severity, 0) + n
    begin_write(session, FINDINGS)
    run = session.get(CheckRun, run_id)  # type: ignore[assignment]
    finish_run(run, outcome.counts, found)
    outcome.run = run
    return outcome
