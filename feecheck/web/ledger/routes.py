"""The refund ledger (per region and per kindergarten, with CSV and xlsx downloads) and a notice's
page: its violations, the refunds it demanded and their state, its follow-ups (复查) and closing
(销号) (services.rectification)."""

from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from feecheck.domain.categories import FollowUpOutcome, RefundState
from feecheck.domain.reasons import Refused
from feecheck.extensions import db
from feecheck.services import ledger, rectification
from feecheck.services.exporting import write_csv
from feecheck.services.queries import regions_in_scope
from feecheck.services.scope import SUPERVISING, Forbidden
from feecheck.web.kindergartens.routes import download
from feecheck.web.labels import chinese
from feecheck.web.records.routes import reason

bp = Blueprint("ledger", __name__)

OUTCOME_LABELS = {
    "rectified": _l("Rectified"),
    "partly": _l("Partly rectified"),
    "not_rectified": _l("Not rectified"),
}
STATE_LABELS = {
    "overdue": _l("Overdue"),
    "owed": _l("Owed"),
    "partly_refunded": _l("Partly refunded"),
    "settled": _l("Settled"),
}
NOTICE_STATUS_LABELS = {"issued": _l("Issued"), "overdue": _l("Overdue"), "closed": _l("Closed")}


class FollowUpForm(FlaskForm):
    followed_up_on = DateField(_l("Follow-up date"), validators=[DataRequired()])
    inspector = StringField(_l("Inspector"), validators=[DataRequired(), Length(max=100)])
    outcome = SelectField(
        _l("Outcome"),
        choices=[SelectChoice(value, label) for value, label in OUTCOME_LABELS.items()],
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])
    close = BooleanField(_l("Close the notice (销号)"))


@bp.app_context_processor
def ledger_helpers() -> dict[str, object]:
    return {
        "refund_state_label": lambda s: STATE_LABELS.get(s, s),
        "notice_status_label": lambda s: NOTICE_STATUS_LABELS.get(s, s),
        "outcome_label": lambda s: OUTCOME_LABELS.get(s, s),
        "notice_status": rectification.status_of,
    }


def _as_of() -> date:
    text = request.args.get("as_of") or ""
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        flash(_("The date %(text)s is not YYYY-MM-DD: today is used.", text=text[:20]), "error")
        return date.today()


@bp.route("/ledger")
@login_required
def index() -> Response | str:
    """The ledger of the user's region, of a region inside it or of one kindergarten."""
    as_of = _as_of()
    region = request.args.get("region") or None
    code = request.args.get("kindergarten") or None
    state = request.args.get("state") or None
    if state not in (None, *RefundState.values()):
        flash(_("Unknown state %(state)s: every item is shown.", state=state[:20]), "error")
        state = None
    try:
        book, kindergarten = rectification.ledger_for(
            db.session,
            current_user,
            as_of,
            region_code=region,
            kindergarten_code=code,
            state=state,
        )
    except ValueError:
        abort(404)  # a region code that is not one
    wanted = request.args.get("format")
    if wanted in ("csv", "xlsx"):
        name = f"ledger-{code or region or current_user.region_code or 'all'}-{as_of}"
        if wanted == "xlsx":
            data = ledger.xlsx(book)
            mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            return download(data, f"{name}.xlsx", mimetype)
        buffer = io.StringIO()
        rows = ([str(c) for c in r] for r in ledger.table(book))
        write_csv(buffer, list(ledger.COLUMNS), rows, bom=True)
        return download(buffer.getvalue().encode("utf-8"), f"{name}.csv", "text/csv")
    overdue = rectification.overdue_notices(db.session, current_user, as_of, region)
    return render_template(
        "ledger/index.html",
        book=book,
        kindergarten=kindergarten,
        as_of=as_of,
        region=region,
        code=code,
        state=state,
        states=RefundState.values(),
        regions=regions_in_scope(db.session, current_user),
        overdue=overdue,
    )


@bp.route("/notices/<int:notice_id>")
@login_required
def notice(notice_id: int) -> str:
    state = rectification.notice_state(db.session, current_user, notice_id, date.today())
    form = FollowUpForm(followed_up_on=date.today(), inspector=current_user.username)
    return _notice_page(state, form)


def _notice_page(state: rectification.NoticeState, form: FollowUpForm) -> str:
    return render_template(
        "ledger/notice.html",
        state=state,
        form=form,
        may_close=current_user.role in SUPERVISING,
        reasons=[zh if chinese() else en for en, zh in state.why_not_closable()],
    )


@bp.route("/notices/<int:notice_id>/follow-up", methods=["POST"])
@login_required
def follow_up(notice_id: int) -> Response | tuple[str, int]:
    form = FollowUpForm()
    if not form.validate_on_submit():
        state = rectification.notice_state(db.session, current_user, notice_id, date.today())
        return _notice_page(state, form), 400
    try:
        rectification.record_follow_up(
            db.session,
            current_user,
            notice_id,
            followed_up_on=form.followed_up_on.data,
            inspector=form.inspector.data or "",
            outcome=form.outcome.data or "",
            notes=form.notes.data,
            close=bool(form.close.data),
            today=date.today(),
        )
        db.session.commit()
    except (Refused, Forbidden) as exc:
        db.session.rollback()
        message = (
            _("Only a supervisor or an admin may close a notice.")
            if isinstance(exc, Forbidden)
            else reason(exc)
        )
        form.close.errors = [message]
        state = rectification.notice_state(db.session, current_user, notice_id, date.today())
        return _notice_page(state, form), 400
    if form.close.data:
        flash(_("The notice is closed."), "info")
    else:
        flash(_("The follow-up is recorded."), "info")
    return redirect(url_for("ledger.notice", notice_id=notice_id))


assert FollowUpOutcome.values() == list(OUTCOME_LABELS)  # one label per outcome
