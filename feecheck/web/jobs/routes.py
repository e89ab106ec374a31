"""Jobs: a page and a JSON status per job, polled by the pages that start long work; and, once
per app, marking failed the jobs and imports that a stopped process left behind."""

from __future__ import annotations

import threading

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    send_file,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from feecheck.domain.reasons import Refused
from feecheck.extensions import db
from feecheck.services import jobs

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

KIND_LABELS = {"import": _l("Import"), "check": _l("Check"), "reports": _l("Reports")}
STATUS_LABELS = {
    "queued": _l("Waiting"),
    "running": _l("Running"),
    "done": _l("Finished"),
    "failed": _l("Failed"),
}
RESULT_LABELS = {
    "reports": _l("Reports"),
    "rows": _l("Rows"),
    "created": _l("New"),
    "updated": _l("Updated"),
    "unchanged": _l("Unchanged"),
    "rejected": _l("Rejected"),
    "kindergartens": _l("Kindergartens"),
    "findings": _l("Findings"),
    "resolved": _l("Resolved"),
    "reopened": _l("Reopened"),
    "not_evaluated": _l("Months or rules not evaluated"),
}
SWEPT = "feecheck.jobs.swept"
_sweep_lock = threading.Lock()


@bp.before_app_request
def fail_stale_once() -> None:
    """When the app starts serving: fail the jobs and imports a stopped process left running.

    Once per app, in a Session of its own (the request's stays read-only on GET). A database
    that cannot answer yet is tried again on the next request."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    with _sweep_lock:
        if app.extensions.get(SWEPT):
            return
        app.extensions[SWEPT] = True
    session = db.new_session(app)
    try:
        jobs.fail_stale_work(session)
    except (SQLAlchemyError, Refused) as exc:
        session.rollback()
        app.extensions[SWEPT] = False
        app.logger.warning("stale jobs not checked yet: %s", jobs.first_line(exc))
    finally:
        session.close()


@bp.route("/<int:job_id>")
@login_required
def show(job_id: int) -> str:
    job = jobs.get_job(db.session, current_user, job_id)
    status = jobs.status_of(db.session, job)
    batch_id = (job.result or {}).get("batch_id") or job.params.get("batch_id")
    return render_template(
        "jobs/show.html",
        job=job,
        status=status,
        kind_label=KIND_LABELS.get(job.kind, job.kind),
        status_label=STATUS_LABELS.get(job.status, job.status),
        result_labels=RESULT_LABELS,
        batch_id=batch_id if job.kind == "import" else None,
    )


@bp.route("/<int:job_id>/status.json")
@login_required
def status(job_id: int) -> Response:
    job = jobs.get_job(db.session, current_user, job_id)
    return jsonify(jobs.status_of(db.session, job))


@bp.route("/<int:job_id>/download")
@login_required
def download(job_id: int) -> Response:
    """The archive a finished reports job made."""
    job = jobs.get_job(db.session, current_user, job_id)
    archive = jobs.archive_of(job)
    if archive is None:
        abort(404)
    return send_file(
        archive, mimetype="application/zip", as_attachment=True, download_name=archive.name
    )
