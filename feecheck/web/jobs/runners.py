"""The app's job runners: one per app, made from its configuration on first use."""

from __future__ import annotations

import threading

from flask import Flask

from feecheck.extensions import db
from feecheck.services import jobs

_lock = threading.Lock()
RUNNER = "feecheck.jobs.runner"


def runner(app: Flask) -> jobs.Runner:
    """The runner for background work: a ThreadRunner, or an RqRunner (JOBS_RUNNER=rq)."""
    with _lock:
        made = app.extensions.get(RUNNER)
        if made is None:
            made = jobs.make_runner(app.config, lambda: db.new_session(app))
            app.extensions[RUNNER] = made
    return made


def inline(app: Flask) -> jobs.InlineRunner:
    """A runner for small work, done before the request answers."""
    return jobs.InlineRunner(lambda: db.new_session(app))
