"""The import page: upload, dry-run preview, confirm, progress, error report, templates."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import SelectChoice

from feecheck.domain.categories import Role
from feecheck.extensions import db
from feecheck.models import ImportBatch
from feecheck.services import importing, jobs
from feecheck.services.exporting import (
    error_report_csv,
    template_csv,
    template_xlsx,
    workbook_template_xlsx,
)
from feecheck.services.importing import (
    ImportOptions,
    fail_stale_batches,
    prune_uploads,
    start_batch,
    stored_upload,
    upload_name,
)
from feecheck.services.queries import regions_in_scope
from feecheck.services.record_types import RECORD_TYPES
from feecheck.web.imports.forms import (
    RECORD_TYPE_LABELS,
    WORKBOOK_LABEL,
    ConfirmForm,
    UploadForm,
)
from feecheck.web.jobs import runners

bp = Blueprint("imports", __name__, url_prefix="/imports")
PREVIEW_ERRORS = 50
IMPORTING_ROLES = {Role.INSPECTOR.value, Role.SUPERVISOR.value, Role.ADMIN.value}


def _may_import() -> None:
    if current_user.role not in IMPORTING_ROLES:
        abort(403)


def get_batch(batch_id: int) -> ImportBatch:
    """The batch, if the current user started it (admins see every batch); 404 otherwise."""
    return importing.get_batch(db.session, current_user, batch_id)


def _run(batch: ImportBatch, path: Path, options: ImportOptions) -> None:
    """Import a recorded batch as a job: small files before the page answers, large ones by the
    app's runner (a thread here, or an RQ worker) while the batch page follows the job."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    large = path.stat().st_size > app.config.get("IMPORT_BACKGROUND_BYTES", 1 << 20)
    jobs.start_import(
        db.session,
        batch,
        path,
        options,
        current_user,
        Path(app.config["RULES_DIR"]),
        runners.runner(app) if large else runners.inline(app),
    )


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> str | WerkzeugResponse:
    _may_import()
    fail_stale_batches(db.session)
    prune_uploads(current_app.instance_path)
    form = UploadForm()
    form.region.choices = [
        form.region.choices[0],
        *(SelectChoice(code, code) for code in regions_in_scope(db.session, current_user)),
    ]
    if form.validate_on_submit():
        upload = form.file.data
        # Only recorded and shown, never used as a path (the file is stored by batch id).
        name = upload_name(upload.filename)
        options = ImportOptions(
            dry_run=True,
            atomic=bool(form.atomic.data),
            encoding=form.encoding.data or "auto",
            region_code=current_user.region_code,
            fill_region=form.region.data or None,
        )
        with tempfile.NamedTemporaryFile(delete=False, suffix=".upload") as handle:
            upload.save(handle)
            temporary = Path(handle.name)
        batch = start_batch(
            db.session, form.record_type.data, temporary, name, current_user, options
        )
        path = stored_upload(current_app.instance_path, batch.id)
        shutil.move(temporary, path)
        _run(batch, path, options)
        return redirect(url_for("imports.show", batch_id=batch.id))
    return render_template(
        "imports/index.html",
        form=form,
        batches=importing.recent_batches(db.session, current_user),
        labels={**RECORD_TYPE_LABELS, "workbook": WORKBOOK_LABEL},
        type_labels=RECORD_TYPE_LABELS,
        record_types=RECORD_TYPES,
    )


@bp.route("/<int:batch_id>")
@login_required
def show(batch_id: int) -> str:
    batch = get_batch(batch_id)
    can_commit = (
        batch.status == "dry_run"
        and stored_upload(current_app.instance_path, batch.id).exists()
        and batch.created + batch.updated > 0
        and not (batch.atomic and batch.rejected)
    )
    job = jobs.job_for_batch(db.session, batch.id)
    # The page follows the job; a batch without one (or whose job ended before the batch did,
    # until the stale sweep catches up) follows the batch, so the page never reloads in a loop.
    follow_job = job is not None and job.status in jobs.UNFINISHED
    return render_template(
        "imports/show.html",
        batch=batch,
        job=job,
        status_url=url_for("jobs.status", job_id=job.id)
        if follow_job and job is not None
        else url_for("imports.status", batch_id=batch.id),
        errors=batch.errors[:PREVIEW_ERRORS],
        chinese=str(get_locale()) != "en",
        label={**RECORD_TYPE_LABELS, "workbook": WORKBOOK_LABEL}.get(
            batch.record_type, batch.record_type
        ),
        confirm=ConfirmForm() if can_commit else None,
    )


@bp.route("/<int:batch_id>/commit", methods=["POST"])
@login_required
def commit(batch_id: int) -> WerkzeugResponse:
    _may_import()
    preview = get_batch(batch_id)
    path = stored_upload(current_app.instance_path, preview.id)
    if not ConfirmForm().validate_on_submit() or preview.status != "dry_run" or not path.exists():
        flash(_("This preview can no longer be imported; upload the file again."), "error")
        return redirect(url_for("imports.show", batch_id=batch_id))
    options = ImportOptions(
        atomic=preview.atomic,
        encoding="gb18030" if preview.encoding == "gb18030" else "utf-8",
        region_code=current_user.region_code,
        fill_region=preview.fill_region,
    )
    claimed = path.with_suffix(".claimed")
    try:  # one commit per preview, even when the button is clicked twice: rename is atomic
        path.rename(claimed)
    except FileNotFoundError:
        flash(_("This preview is already being imported."), "info")
        return redirect(url_for("imports.show", batch_id=batch_id))
    batch = start_batch(
        db.session, preview.record_type, claimed, preview.file_name, current_user, options
    )
    committed = stored_upload(current_app.instance_path, batch.id)
    shutil.move(claimed, committed)
    _run(batch, committed, options)
    return redirect(url_for("imports.show", batch_id=batch.id))


@bp.route("/<int:batch_id>/status.json")
@login_required
def status(batch_id: int) -> Response:
    batch = get_batch(batch_id)
    finished = batch.status not in ("pending", "running")
    job = None if finished else jobs.job_for_batch(db.session, batch.id)
    if job is not None:  # the job's figures, written while it runs (services/jobs.py)
        done, expected = jobs.progress(db.session, job)
    else:
        done, expected = batch.rows_done, batch.rows_total
    return jsonify(
        {
            "id": batch.id,
            "status": batch.status,
            "finished": finished,
            "rows_done": done,
            "rows_expected": expected,
            "done": done,  # the names a job's status uses (static/jobs.js reads either)
            "total": expected,
            "created": batch.created,
            "updated": batch.updated,
            "unchanged": batch.unchanged,
            "rejected": batch.rejected,
        }
    )


@bp.route("/<int:batch_id>/errors.csv")
@login_required
def errors(batch_id: int) -> Response:
    batch = get_batch(batch_id)
    stem = Path(batch.file_name).stem or "import"
    return Response(
        error_report_csv(batch.file_name, batch.errors),
        mimetype="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="errors-{batch.id}.csv"; '
            f"filename*=UTF-8''{quote(stem, safe='')}-errors-{batch.id}.csv"
        },
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/templates/<record_type>.csv")
@login_required
def template(record_type: str) -> Response:
    if record_type not in RECORD_TYPES:
        abort(404)
    return Response(
        template_csv(RECORD_TYPES[record_type]),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{record_type}.csv"'},
    )


@bp.route("/templates/<record_type>.xlsx")
@login_required
def template_workbook(record_type: str) -> Response:
    """An Excel template: one type's sheet, or (`workbook`) every type's sheet in import
    order; drop-down lists on the enumerated columns."""
    if record_type == "workbook":
        data = workbook_template_xlsx()
    elif record_type in RECORD_TYPES:
        data = template_xlsx(RECORD_TYPES[record_type])
    else:
        abort(404)
    return Response(
        data,
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{record_type}.xlsx"'},
    )
