"""`feecheck worker`: one clear line and exit 2 when it cannot run; the RQ runs themselves are
tested in tests/services/test_jobs.py (SimpleWorker against the local Redis)."""

from __future__ import annotations

import sys

from flask import Flask
from flask.testing import FlaskCliRunner

from feecheck.cli import main


def test_the_worker_says_in_one_line_that_redis_is_unreachable(
    app: Flask, runner: FlaskCliRunner
) -> None:
    app.config["JOBS_REDIS_URL"] = "redis://:secret@127.0.0.1:1/0"
    result = runner.invoke(main, ["worker", "--burst"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach Redis at ")
    assert "redis://:***@127.0.0.1:1/0" in lines[0] and "secret" not in lines[0]
    assert "Traceback" not in result.output


def test_the_worker_needs_rq(app: Flask, runner: FlaskCliRunner, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "rq", None)  # as if rq were not installed
    result = runner.invoke(main, ["worker"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: the job queue needs the rq package: pip install rq"


def test_the_worker_refuses_a_url_that_is_not_redis(app: Flask, runner: FlaskCliRunner) -> None:
    app.config["JOBS_REDIS_URL"] = "http://127.0.0.1:6379"
    result = runner.invoke(main, ["worker", "--burst"])
    assert result.exit_code == 2
    assert "FEECHECK_JOBS_REDIS_URL is not a Redis URL: http://127.0.0.1:6379" in result.output
