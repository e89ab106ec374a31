"""Reports and notices from the pages: download a kindergarten's and a region's report, issue a
notice and print it again, every kindergarten's report as a background job, region scope."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from sqlalchemy import select

from feecheck.extensions import db
from feecheck.models import Job, Notice
from feecheck.services import jobs
from feecheck.web.jobs import runners
from tests.web.conftest import login


def test_a_kindergartens_report_downloads_and_another_regions_is_404(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    response = client.get(f"/kindergartens/{world['hd']}/report.pdf?period=2025-09")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF") and len(response.data) > 10_000
    assert "K-HD-2025-09.pdf" in response.headers["Content-Disposition"]
    assert client.get(f"/kindergartens/{world['xh']}/report.pdf?period=2025-09").status_code == 404
    bad = client.get(f"/kindergartens/{world['hd']}/report.pdf?period=2025-13")
    assert bad.status_code == 302


def test_a_notice_is_issued_listed_and_printed_again(client, app, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app.config["OFFICES_FILE"] = tmp_path / "offices.yaml"
    (tmp_path / "offices.yaml").write_text(
        '"110108": {name: 北京市海淀区教育委员会, prefix: 海教收整, deadline_days: 10}\n',
        encoding="utf-8",
    )
    login(client, "insp")
    form = {
        "period_from": "2025-09",
        "period_to": "2025-09",
        "inspector1": "张明",
        "certificate1": "11010820230001",
    }
    response = client.post(f"/kindergartens/{world['hd']}/notice", data=form)
    assert response.status_code == 302
    page = client.get(f"/kindergartens/{world['hd']}").get_data(as_text=True)
    assert "海教收整〔" in page and "10 日" in page
    with app.app_context():
        notice = db.session.scalar(select(Notice))
        assert notice.number.startswith("海教收整〔") and notice.inspectors[0]["name"] == "张明"
        assert (notice.deadline - notice.issued_on).days == 10
    printed = client.get(f"/notices/{notice.id}.pdf")
    assert printed.status_code == 200 and printed.data.startswith(b"%PDF")
    assert client.get(f"/notices/{notice.id}.pdf").data == printed.data  # the same, always
    other = login(client.application.test_client(), "xuhui")
    assert other.get(f"/notices/{notice.id}.pdf").status_code == 404
    assert other.post(f"/kindergartens/{world['hd']}/notice", data=form).status_code == 404
    nothing = client.post(
        f"/kindergartens/{world['hd']}/notice",
        data={"period_from": "2024-01", "period_to": "2024-01"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "没有待处理的违规" in nothing


def test_a_regions_report_and_every_kindergartens_as_a_job(client, app, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app.instance_path = str(tmp_path)  # the archive is written under the instance folder
    app.extensions[runners.RUNNER] = jobs.InlineRunner(lambda: db.new_session(app))
    login(client, "insp")
    region = client.get("/report.pdf?region=110108&period=2025-09&details=1")
    assert region.status_code == 200 and region.data.startswith(b"%PDF")
    assert client.get("/report.pdf?region=310104&period=2025-09").status_code == 404
    started = client.post("/reports", data={"region": "110108", "period": "2025-09"})
    assert started.status_code == 302 and "/jobs/" in started.headers["Location"]
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "下载报告（ZIP）" in page
    with app.app_context():
        job = db.session.scalars(select(Job).order_by(Job.id.desc())).first()
        assert (job.kind, job.status, job.result["reports"]) == ("reports", "done", 1)
    archive = client.get(f"/jobs/{job.id}/download")
    assert archive.status_code == 200
    data = archive.data
    archive.close()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["K-HD-2025-09.pdf"]
    other = login(client.application.test_client(), "xuhui")
    assert other.get(f"/jobs/{job.id}/download").status_code == 404
    assert other.post("/reports", data={"region": "110108", "period": "2025-09"}).status_code == 404
