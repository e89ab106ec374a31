"""The job page and its JSON status; web imports run as jobs; jobs a stopped server left running
are failed when the app starts serving."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, select

from feecheck import create_app
from feecheck.extensions import db
from feecheck.models import ImportBatch, Job
from feecheck.services.workers import HOST, worker
from tests.factories import make_user


@pytest.fixture
def app(connection: Connection, tmp_path: Path) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_BIND": connection,
            "DATABASE_SESSION_OPTIONS": {"join_transaction_mode": "create_savepoint"},
            "WTF_CSRF_ENABLED": False,
        }
    )
    app.instance_path = str(tmp_path / "instance")
    return app


@pytest.fixture
def users(app: Flask) -> dict[str, int]:
    with app.app_context():
        made = {
            "haidian": make_user(db.session, "haidian", role="inspector", region_code="110108"),
            "other": make_user(db.session, "other", role="supervisor", region_code="110108"),
            "admin": make_user(db.session, "admin", role="admin", region_code=None),
        }
        db.session.commit()
        return {name: user.id for name, user in made.items()}


def _login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": "correct horse"})
    assert response.status_code == 302


def _job(app: Flask, **values) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        job = Job(**{"kind": "check", "params": {}, "worker": worker(), **values})
        db.session.add(job)
        db.session.commit()
        return job.id


def test_the_job_page_and_status_show_progress_result_and_message(
    app: Flask, client: FlaskClient, users: dict[str, int]
) -> None:
    running = _job(
        app, status="running", user_id=users["haidian"], progress_done=40, progress_total=100
    )
    done = _job(
        app,
        status="done",
        user_id=users["haidian"],
        result={"findings": 7, "created": 5, "resolved": 2, "check_run_id": 9},
    )
    failed = _job(
        app, status="failed", user_id=users["haidian"], message="内部错误 / internal error"
    )
    _login(client, "haidian")
    status = client.get(f"/jobs/{running}/status.json").get_json()
    assert status == {
        "id": running,
        "kind": "check",
        "status": "running",
        "finished": False,
        "done": 40,
        "total": 100,
        "message": None,
        "result": None,
    }
    page = client.get(f"/jobs/{running}?lang=en").get_data(as_text=True)
    assert 'data-status="running"' in page
    assert f'data-status-url="/jobs/{running}/status.json"' in page
    assert '<progress max="100" value="40">' in page and "jobs.js" in page
    page = client.get(f"/jobs/{done}?lang=en").get_data(as_text=True)
    assert re.search(r"<th>Findings</th><td class=\"num\">7</td>", page)
    assert re.search(r"<th>Resolved</th><td class=\"num\">2</td>", page)
    assert "check_run_id" not in page and "<progress" not in page
    assert client.get(f"/jobs/{done}/status.json").get_json()["finished"] is True
    page = client.get(f"/jobs/{failed}").get_data(as_text=True)
    assert "内部错误 / internal error" in page


def test_a_job_is_private_to_its_user_and_admins(
    app: Flask, client: FlaskClient, users: dict[str, int]
) -> None:
    job_id = _job(app, status="done", user_id=users["haidian"], result={})
    _login(client, "other")
    theirs, missing = client.get(f"/jobs/{job_id}"), client.get(f"/jobs/{job_id + 1000}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_data() == missing.get_data()  # one answer: nothing to learn by guessing
    assert client.get(f"/jobs/{job_id}/status.json").status_code == 404
    client.post("/logout")
    _login(client, "admin")
    assert client.get(f"/jobs/{job_id}/status.json").status_code == 200
    client.post("/logout")
    assert "/login" in client.get(f"/jobs/{job_id}").headers["Location"]
    assert "/login" in client.get(f"/jobs/{job_id}/status.json").headers["Location"]


def test_a_web_import_runs_as_a_job(app: Flask, client: FlaskClient, users: dict[str, int]) -> None:
    _login(client, "haidian")
    response = client.post(
        "/imports/",
        data={
            "record_type": "kindergartens",
            "file": (io.BytesIO(b"code,name,region_code,category\nK1,x,110108,public\n"), "k.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    batch_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        job = db.session.scalars(select(Job)).one()
        assert (job.kind, job.status, job.runner) == ("import", "done", "inline")
        assert job.params["batch_id"] == batch_id and job.user_id == users["haidian"]
        assert job.result is not None and job.result["status"] == "dry_run"
        job_id = job.id
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert f'href="/jobs/{job_id}"' in page
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert f'href="/imports/{batch_id}"' in page


def test_a_running_import_page_polls_its_job(
    app: Flask, client: FlaskClient, users: dict[str, int]
) -> None:
    with app.app_context():
        batch = ImportBatch(
            record_type="charges",
            file_name="big.csv",
            sha256="0" * 64,
            status="running",
            user_id=users["haidian"],
            worker=worker(),
        )
        db.session.add(batch)
        db.session.commit()
        batch_id = batch.id
    job_id = _job(
        app,
        kind="import",
        status="running",
        params={"batch_id": batch_id},
        user_id=users["haidian"],
        progress_done=5000,
        progress_total=20000,
    )
    _login(client, "haidian")
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert f'data-status-url="/jobs/{job_id}/status.json"' in page
    assert 'data-status="running"' in page and "<progress" in page
    status = client.get(f"/imports/{batch_id}/status.json").get_json()
    assert (status["rows_done"], status["rows_expected"], status["finished"]) == (
        5000,
        20000,
        False,
    )


def test_jobs_left_running_by_a_stopped_server_fail_when_the_app_starts_serving(
    app: Flask, client: FlaskClient
) -> None:
    dead = _job(app, status="running", worker=f"{HOST}:{2**22 + 12345}")
    mine = _job(app, status="running")
    client.get("/login")  # the first request
    with app.app_context():
        statuses = dict(db.session.execute(select(Job.id, Job.status)).all())
        message = db.session.get(Job, dead).message
    assert statuses == {dead: "failed", mine: "running"}
    assert message and "stopped before it finished" in message
    assert app.extensions["feecheck.jobs.swept"] is True
