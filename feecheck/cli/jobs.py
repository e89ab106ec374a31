"""`feecheck worker [--burst]`: run queued jobs (JOBS_RUNNER=rq) from Redis. What the worker
runs for each job is feecheck.worker.perform_queued."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from feecheck.cli.common import fail
from feecheck.extensions import db
from feecheck.services import jobs


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run jobs from the Redis queue "feecheck" (FEECHECK_JOBS_REDIS_URL) until stopped.

    Web imports and checks go to this queue when FEECHECK_JOBS_RUNNER=rq. The worker needs the
    same database and instance folder as the web server. Exit status 2: Redis unreachable or
    rq not installed.
    """
    url = current_app.config["JOBS_REDIS_URL"]
    try:
        from redis import Redis
        from redis.exceptions import RedisError
        from rq import Queue, Worker
    except ImportError:
        fail("the job queue needs the rq package: pip install rq")
    where = jobs.redacted(url)
    try:
        connection = Redis.from_url(url, socket_connect_timeout=5)
        connection.ping()
    except ValueError:
        fail(f"FEECHECK_JOBS_REDIS_URL is not a Redis URL: {where}")
    except (RedisError, OSError) as exc:
        fail(f"cannot reach Redis at {where}: {jobs.first_line(exc)}")
    marked = jobs.fail_stale_jobs(db.session)
    if marked:
        click.echo(f"{marked} job(s) left behind by a stopped process marked failed", err=True)
    db.session.close()
    engine = db.engine(current_app)
    if engine is not None:
        engine.dispose()  # each job builds its own app; forked work horses share no connection
    Worker([Queue(jobs.QUEUE, connection=connection)], connection=connection).work(burst=burst)


COMMANDS = (worker_command,)
