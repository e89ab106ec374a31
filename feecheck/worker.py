"""What an RQ worker runs for one job (services.jobs.RQ_TARGET).

A third face beside web/ and cli/: a process that takes work from the queue. Like the console
script, it builds the app with create_app() from the environment (FEECHECK_DATABASE_URL, ...),
so the worker reads and writes the database the web uses.
"""

from __future__ import annotations

from feecheck import create_app
from feecheck.extensions import db
from feecheck.services import jobs


def perform_queued(job_id: int) -> None:
    """Build the app, perform the job with the app's sessions, close the app's connections."""
    app = create_app()
    try:
        jobs.perform(job_id, lambda: db.new_session(app))
    finally:
        engine = db.engine(app)
        if engine is not None:
            engine.dispose()
