"""Every record type by form: list, detail with history, create, edit, delete (with confirmation).

Views call services only (services.editing for records, services.feedback for the check after a
save); a record outside the user's region is a 404 (services.scope.NotFound).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from datetime import date
from typing import IO, Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from feecheck.domain.reasons import Problem, Refused
from feecheck.extensions import db
from feecheck.services import editing, feedback
from feecheck.services import rules as rules_service
from feecheck.services.editing import Conflict, RecordRow
from feecheck.services.exporting import XLSX_MIMETYPE, export_csv, export_workbook
from feecheck.services.locks import Busy
from feecheck.services.pagination import page_number
from feecheck.services.record_types import RECORD_TYPES
from feecheck.services.scope import get_kindergarten
from feecheck.web.access import id_arg
from feecheck.web.records.forms import (
    RECORD_TYPE_LABELS,
    RECORD_TYPE_SINGULAR,
    DeleteForm,
    chinese,
    enum_label,
    form_class,
    label,
    widgets,
)

bp = Blueprint("records", __name__, url_prefix="/records")


def _type(type_name: str) -> str:
    if type_name not in RECORD_TYPE_LABELS:
        abort(404)
    return type_name


def get_record_or_404(type_name: str, record_id: int) -> RecordRow:
    """The record if it exists in the user's region (NotFound becomes 404)."""
    return editing.get_record(db.session, current_user, _type(type_name), record_id)


def _as_of() -> date:
    return date.today()


def reason(problem: Problem | Refused) -> str:
    if isinstance(problem, Refused):
        return problem.zh if chinese() else problem.en
    return problem.reason_zh if chinese() else problem.reason


@bp.app_context_processor
def record_helpers() -> dict[str, Any]:
    return {
        "record_label": label,
        "enum_label": enum_label,
        "record_type_labels": RECORD_TYPE_LABELS,
        "record_type_singular": RECORD_TYPE_SINGULAR,
        "reason_text": reason,
    }


@bp.route("/<type_name>/")
@login_required
def index(type_name: str) -> str:
    type_name = _type(type_name)
    kindergarten = None
    kg_id = id_arg("kindergarten")
    if kg_id is not None:
        kindergarten = get_kindergarten(db.session, current_user, kg_id)
    search = request.args.get("q", "").strip()
    page = editing.list_records(
        db.session,
        current_user,
        type_name,
        search=search,
        kindergarten_id=kg_id,
        page=page_number(request.args.get("page")),
    )
    return render_template(
        "records/list.html",
        type_name=type_name,
        page=page,
        search=search,
        kindergarten=kindergarten,
        fields=editing.LIST_FIELDS[type_name],
    )


@bp.route("/<type_name>/export.<any(csv, xlsx):file_format>")
@login_required
def export(type_name: str, file_format: str) -> Response:
    """Every record of the type inside the user's region, as a workbook (its sheet named as the
    import expects, Chinese headers) or a CSV file (BOM; the page's language): both import back
    unchanged."""
    record_type = RECORD_TYPES[_type(type_name)]
    region_code = current_user.region_code
    # A large export spills to disk instead of memory; the response reads it in blocks and
    # closes it (when read to the end, or when the server closes the response).
    spool = tempfile.SpooledTemporaryFile(32 << 20)  # noqa: SIM115
    try:
        if file_format == "xlsx":
            export_workbook(db.session, [record_type], spool, region_code=region_code)
            mimetype = XLSX_MIMETYPE
        else:
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            language = "zh" if chinese() else "en"
            export_csv(db.session, record_type, text, language, bom=True, region_code=region_code)
            text.flush()
            text.detach()  # leaves the spool open for the response
            mimetype = "text/csv"
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    response = Response(_blocks(spool), mimetype=mimetype)
    response.content_length = size
    response.call_on_close(spool.close)
    name = f"{type_name}-{region_code or 'all'}.{file_format}"
    response.headers.set("Content-Disposition", "attachment", filename=name)
    return response


def _blocks(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        while block := file.read(1 << 16):
            yield block


@bp.route("/<type_name>/<int:record_id>")
@login_required
def show(type_name: str, record_id: int) -> str:
    row = get_record_or_404(type_name, record_id)
    run_id = id_arg("run")
    checked = (
        feedback.for_run(db.session, current_user, row, run_id) if run_id is not None else None
    )
    return render_template(
        "records/detail.html",
        type_name=row.record_type.name,
        row=row,
        kindergarten=get_kindergarten(db.session, current_user, row.kindergarten_id),
        history=editing.history(db.session, row),
        fields=[w.name for w in widgets(row.record_type.name)],
        checked=checked,
        delete_form=DeleteForm(version=row.version),
    )


def _choices(kindergarten_id: int | None) -> editing.Choices | None:
    if kindergarten_id is None:
        return None
    return editing.choices(db.session, current_user, kindergarten_id)


@bp.route("/<type_name>/new", methods=["GET", "POST"])
@login_required
def new(type_name: str) -> str | Response:
    type_name = _type(type_name)
    kg_id = id_arg("kindergarten")
    kindergarten = get_kindergarten(db.session, current_user, kg_id) if kg_id else None
    form = form_class(type_name)()
    if request.method == "GET" and kindergarten is not None and type_name != "kindergartens":
        form.kindergarten_code.data = kindergarten.code  # type: ignore[attr-defined]
    if request.method == "GET" and type_name == "kindergartens" and current_user.region_code:
        form.region_code.data = current_user.region_code  # type: ignore[attr-defined]
    errors: dict[str, list[Problem]] = {}
    if form.validate_on_submit():
        outcome = _save(type_name, form, None, None)
        if isinstance(outcome, Response):
            return outcome
        errors = outcome
    elif form.errors:
        flash(_("The form has expired; send it again."), "error")
    return render_template(
        "records/form.html",
        type_name=type_name,
        form=form,
        widgets=widgets(type_name),
        errors=errors,
        row=None,
        kindergarten=kindergarten,
        choices=_choices(kindergarten.id if kindergarten else None),
        key_fields=(),
        current=None,
    )


@bp.route("/<type_name>/<int:record_id>/edit", methods=["GET", "POST"])
@login_required
def edit(type_name: str, record_id: int) -> str | Response:
    row = get_record_or_404(type_name, record_id)
    type_name = row.record_type.name
    form = form_class(type_name)()
    if request.method == "GET":
        for name, cell in row.cells().items():
            if name in form:
                form[name].data = ";".join(row.values[name]) if name == "filed_accounts" else cell
        form.version.data = str(row.version)  # type: ignore[attr-defined]
    errors: dict[str, list[Problem]] = {}
    current: RecordRow | None = None
    version = _version(form.version.data)  # type: ignore[attr-defined]
    if form.validate_on_submit() and version is None:
        # a form that does not say which version it shows cannot prove it is not stale
        flash(
            _(
                "The form did not say which version of the record it was read at: nothing "
                "was saved. Check the values stored now and send it again."
            ),
            "error",
        )
        current = row
        form.version.data = str(row.version)  # type: ignore[attr-defined]
    elif form.validate_on_submit():
        outcome = _save(type_name, form, row, version)
        if isinstance(outcome, Response):
            return outcome
        if isinstance(outcome, RecordRow):  # someone else saved first: show theirs
            current = outcome
            form.version.data = str(current.version)  # type: ignore[attr-defined]
        else:
            errors = outcome
    elif form.errors:
        flash(_("The form has expired; send it again."), "error")
    for name in row.record_type.key:  # what identifies the record is shown, not edited
        if name in form:
            form[name].data = row.cells()[name]
    return render_template(
        "records/form.html",
        type_name=type_name,
        form=form,
        widgets=widgets(type_name),
        errors=errors,
        row=row,
        kindergarten=get_kindergarten(db.session, current_user, row.kindergarten_id),
        choices=_choices(row.kindergarten_id),
        key_fields=row.record_type.key,
        current=current,
    )


def _version(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _save(
    type_name: str, form: Any, row: RecordRow | None, version: int | None
) -> Response | RecordRow | dict[str, list[Problem]]:
    """Save, commit, re-check; a redirect when saved, else the other person's record (a stale
    version) or the errors by field."""
    cells = {w.name: (form[w.name].data or "") for w in widgets(type_name)}
    rules_dir = current_app.config["RULES_DIR"]
    ruleset = rules_service.cached(rules_dir)
    try:
        outcome = editing.save_record(
            db.session,
            current_user,
            type_name,
            cells,
            ruleset.taxonomy,
            record_id=row.id if row else None,
            expected_version=version if row else None,
        )
    except Conflict as exc:
        db.session.rollback()
        flash(reason(exc), "error")
        if exc.current is None:
            return redirect(url_for("records.index", type_name=type_name))
        return exc.current
    except Busy as exc:
        db.session.rollback()
        flash(reason(exc), "error")
        return {}
    if not outcome.ok:
        db.session.rollback()
        return outcome.errors
    db.session.commit()
    saved = outcome.row
    assert saved is not None
    if outcome.created:
        flash(_("Saved: a new %(what)s.", what=RECORD_TYPE_SINGULAR[type_name]), "info")
    elif outcome.changed:
        flash(_("Saved: %(n)d fields changed.", n=len(outcome.changed)), "info")
    else:
        flash(_("Nothing changed."), "info")
    checked = feedback.recheck(db.session, current_user, ruleset, [row, saved], _as_of())
    if checked.failed:
        flash(checked.failed, "error")
    if checked.not_rechecked:
        first, last = checked.not_rechecked
        flash(
            _(
                "%(first)s–%(last)s are more than 24 months back and were not checked again: "
                "run the check on the kindergarten's page for them.",
                first=first,
                last=last,
            ),
            "error",
        )
    return redirect(
        url_for("records.show", type_name=type_name, record_id=saved.id, run=checked.run_id)
    )


@bp.route("/<type_name>/<int:record_id>/delete", methods=["GET", "POST"])
@login_required
def delete(type_name: str, record_id: int) -> str | Response:
    row = get_record_or_404(type_name, record_id)
    type_name = row.record_type.name
    form = DeleteForm()
    blocking = editing.dependants(db.session, type_name, row)
    if form.validate_on_submit():
        version = _version(form.version.data)
        if version is None:
            flash(
                _(
                    "The form did not say which version of the record it was read at: nothing "
                    "was deleted. Look at the record and delete it again."
                ),
                "error",
            )
            return redirect(url_for("records.show", type_name=type_name, record_id=record_id))
        ruleset = rules_service.cached(current_app.config["RULES_DIR"])
        try:
            editing.delete_record(
                db.session,
                current_user,
                type_name,
                record_id,
                expected_version=version,
            )
        except (Conflict, Busy, Refused) as exc:
            db.session.rollback()
            flash(reason(exc), "error")
            return redirect(url_for("records.show", type_name=type_name, record_id=record_id))
        db.session.commit()
        flash(_("Deleted."), "info")
        checked = feedback.recheck(db.session, current_user, ruleset, [row], _as_of())
        if checked.failed:
            flash(checked.failed, "error")
        if checked.resolved:  # show which, with their clauses and figures
            flash(
                _(
                    "The check of %(first)s–%(last)s resolved %(n)d findings, listed below.",
                    first=checked.period_from,
                    last=checked.period_to,
                    n=len(checked.resolved),
                ),
                "info",
            )
            return redirect(
                url_for("findings.index", resolved_by=checked.run_id, status="resolved")
            )
        return redirect(
            url_for("records.index", type_name=type_name, kindergarten=row.kindergarten_id)
            if type_name != "kindergartens"
            else url_for("kindergartens.index")
        )
    form.version.data = str(row.version)
    return render_template(
        "records/delete.html",
        type_name=type_name,
        row=row,
        form=form,
        blocking=blocking,
        fields=[w.name for w in widgets(type_name)],
    )
