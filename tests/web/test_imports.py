"""The import page: upload, preview, confirm, background job, error report, templates, scope."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, func, select

from feecheck import create_app
from feecheck.extensions import db
from feecheck.models import Charge, ImportBatch, Kindergarten, User
from feecheck.web.jobs import runners
from tests.factories import make_child, make_kindergarten, make_user

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def app(connection: Connection, tmp_path: Path) -> Flask:
    """The shared app fixture, with an instance folder of its own (uploads are kept there)."""
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
def users(app: Flask) -> None:
    with app.app_context():
        session = db.session
        make_user(session, "haidian", "correct horse", "inspector", "110108")
        make_user(session, "other", "correct horse", "supervisor", "310104")
        kg = make_kindergarten(session, code="K001", region_code="110108")
        make_child(session, kg, child_ref="C001")
        make_child(session, kg, child_ref="C002")
        session.commit()


def _login(client: FlaskClient, username: str = "haidian") -> None:
    response = client.post("/login", data={"username": username, "password": "correct horse"})
    assert response.status_code == 302


def _upload(client: FlaskClient, record_type: str, content: bytes, name: str = "f.csv", **form):  # type: ignore[no-untyped-def]
    return client.post(
        "/imports/",
        data={"record_type": record_type, "file": (io.BytesIO(content), name), **form},
        content_type="multipart/form-data",
    )


def _count(app: Flask, model) -> int:  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def _batch_id(response) -> int:  # type: ignore[no-untyped-def]
    errors = re.findall(r'class="error">([^<]*)', response.get_data(as_text=True))
    assert response.status_code == 302, errors
    match = re.search(r"/imports/(\d+)$", response.headers["Location"])
    assert match
    return int(match[1])


def test_import_page_needs_login(client: FlaskClient) -> None:
    assert "/login" in client.get("/imports/").headers["Location"]
    assert "/login" in client.get("/imports/templates/charges.csv").headers["Location"]


def test_preview_then_confirm(app: Flask, client: FlaskClient, users: None) -> None:
    _login(client)
    page = client.get("/")
    assert 'href="/imports/"' in page.get_data(as_text=True)  # the nav link
    content = (DATA / "charges.zh.gb18030.csv").read_bytes().replace(b"K002", b"K404")
    preview_id = _batch_id(_upload(client, "charges", content, "收费 2025-09.csv"))
    page = client.get(f"/imports/{preview_id}").get_data(as_text=True)
    assert "收费 2025-09.csv" in page and "gb18030" in page
    assert "园所代码 K404 不存在" in page  # the first errors, in the page's language
    assert "导入有效行" in page  # the confirm button
    assert _count(app, Charge) == 0
    report = client.get(f"/imports/{preview_id}/errors.csv")
    assert report.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))
    assert rows[1][:3] == ["收费 2025-09.csv", "4", "园所代码"]
    assert rows[1][4] == "unknown kindergarten K404"

    commit_id = _batch_id(client.post(f"/imports/{preview_id}/commit"))
    assert commit_id != preview_id
    assert _count(app, Charge) == 2
    status = client.get(f"/imports/{commit_id}/status.json").get_json()
    assert status["status"] == "committed" and status["finished"]
    assert (status["created"], status["rejected"]) == (2, 1)
    # The preview's file is gone: a second confirm cannot import it twice.
    again = client.post(f"/imports/{preview_id}/commit", follow_redirects=True)
    assert "不能再导入" in again.get_data(as_text=True)
    assert _count(app, Charge) == 2
    assert not any(Path(app.instance_path, "imports").iterdir())


def test_atomic_preview_with_rejected_rows_cannot_be_confirmed(
    app: Flask, client: FlaskClient, users: None
) -> None:
    _login(client)
    content = (DATA / "charges.en.utf8.csv").read_bytes().replace(b"K002", b"K404")
    batch_id = _batch_id(_upload(client, "charges", content, atomic="y"))
    page = client.get(f"/imports/{batch_id}?lang=en").get_data(as_text=True)
    assert "unknown kindergarten K404" in page
    assert "Import the valid rows" not in page


def test_unreadable_upload_shows_one_clear_message(client: FlaskClient, users: None) -> None:
    _login(client)
    batch_id = _batch_id(_upload(client, "kindergartens", b"PK\x03\x04 not a csv"))
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "Excel 工作簿已损坏" in page


def test_rows_outside_the_users_region_are_rejected(
    app: Flask, client: FlaskClient, users: None
) -> None:
    _login(client)
    batch_id = _batch_id(
        _upload(client, "kindergartens", (DATA / "kindergartens.en.utf8.csv").read_bytes())
    )
    client.post(f"/imports/{batch_id}/commit")
    with app.app_context():
        codes = set(db.session.scalars(select(Kindergarten.code)))
    assert codes == {"K001", "K002"}  # K003 is in Xuhui (310104)


def test_batches_are_private_to_their_user(app: Flask, client: FlaskClient, users: None) -> None:
    _login(client)
    batch_id = _batch_id(_upload(client, "kindergartens", b"code\nK1\n"))
    client.post("/logout")
    _login(client, "other")
    assert client.get(f"/imports/{batch_id}").status_code == 404
    assert client.get(f"/imports/{batch_id}/errors.csv").status_code == 404
    assert client.post(f"/imports/{batch_id}/commit").status_code == 404


def test_templates_have_chinese_headers_and_a_bom(client: FlaskClient, users: None) -> None:
    _login(client)
    response = client.get("/imports/templates/charges.csv")
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert response.data.decode("utf-8-sig").startswith("票据号,园所代码,幼儿编号,收费项目,金额")
    assert client.get("/imports/templates/nothing.csv").status_code == 404


def test_error_report_escapes_formulas(app: Flask, client: FlaskClient, users: None) -> None:
    _login(client)
    content = b"code,name,region_code,category\n=HYPERLINK(1),x,1101,public\n"
    batch_id = _batch_id(_upload(client, "kindergartens", content, "=cmd.csv"))
    text = client.get(f"/imports/{batch_id}/errors.csv").data.decode("utf-8-sig")
    assert "'=cmd.csv" in text
    assert "\n=" not in text and ",=" not in text


def test_uploads_are_size_limited(app: Flask, client: FlaskClient, users: None) -> None:
    _login(client)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = _upload(client, "charges", b"x" * 4096)
    assert response.status_code == 413
    assert _count(app, ImportBatch) == 0


def test_large_files_run_in_the_background(app: Flask, client: FlaskClient, users: None) -> None:
    app.config["IMPORT_BACKGROUND_BYTES"] = 0  # every file counts as large here
    _login(client)
    lines = ["kindergarten_code,child_ref,enrolled_on"] + [
        f"K001,N{n:05d},2025-09-01" for n in range(3000)
    ]
    batch_id = _batch_id(_upload(client, "children", "\n".join(lines).encode()))
    assert runners.runner(app).join(timeout=60)  # the ThreadRunner of services/jobs.py
    status = client.get(f"/imports/{batch_id}/status.json").get_json()
    assert status["status"] == "dry_run" and status["finished"]
    assert (status["rows_done"], status["created"]) == (3000, 3000)
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "jobs.js" in page


def test_page_polls_while_running(app: Flask, client: FlaskClient, users: None) -> None:
    _login(client)
    with app.app_context():
        user_id = db.session.scalars(select(User.id).where(User.username == "haidian")).one()
        batch = ImportBatch(
            record_type="charges",
            file_name="big.csv",
            sha256="0" * 64,
            status="running",
            user_id=user_id,
        )
        db.session.add(batch)
        db.session.commit()
        batch_id = batch.id
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert 'data-status="running"' in page and "<progress" in page
    assert client.get(f"/imports/{batch_id}/status.json").get_json()["finished"] is False


def test_uploads_need_a_csrf_token(connection: Connection, tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_BIND": connection,
            "DATABASE_SESSION_OPTIONS": {"join_transaction_mode": "create_savepoint"},
        }
    )
    app.instance_path = str(tmp_path)
    with app.app_context():
        make_user(db.session, "haidian", "correct horse", "inspector", "110108")
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    client.post(
        "/login",
        data={"username": "haidian", "password": "correct horse", "csrf_token": token[1]},
    )
    response = _upload(client, "kindergartens", b"code\nK1\n")
    assert response.status_code == 400
    assert _count(app, ImportBatch) == 0


def test_an_upload_whose_name_holds_a_nul_is_a_bad_request(
    client: FlaskClient, users: None
) -> None:
    _login(client)
    response = _upload(client, "kindergartens", b"code,name,region_code,category\n", "a\x00b.csv")
    assert response.status_code == 400
