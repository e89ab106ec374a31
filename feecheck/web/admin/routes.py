"""Administration: users (create, deactivate, reset password, role and region).

Every view is for admins (role_required); the services check the role again and refuse what
would lock everybody out, with a reason the view shows next to the field it is about.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from feecheck.domain.categories import Role
from feecheck.extensions import db
from feecheck.services.pagination import page_number
from feecheck.services.users import (
    UserError,
    add_user,
    get_user,
    list_users,
    reset_password,
    update_user,
)
from feecheck.web.access import role_required
from feecheck.web.admin.forms import ROLE_LABELS, EditUserForm, NewUserForm, PasswordForm
from feecheck.web.auth.sessions import remember_password

bp = Blueprint("admin", __name__, url_prefix="/admin")
ADMIN = Role.ADMIN.value


@bp.route("/users")
@role_required(ADMIN)
def users() -> str:
    search = request.args.get("q", "").strip()
    page = list_users(db.session, current_user, search, page_number(request.args.get("page")))
    return render_template("admin/users.html", page=page, search=search, roles=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(ADMIN)
def new_user() -> str | Response:
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = add_user(
                db.session,
                current_user,
                form.username.data or "",
                form.password.data or "",
                form.role.data or "",
                form.region.data,
            )
        except UserError as error:
            _refused(form, error)
        else:
            db.session.commit()
            flash(_("User %(name)s created.", name=user.username), "info")
            return redirect(url_for("admin.users"))
    return render_template("admin/new_user.html", form=form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(ADMIN)
def edit_user(user_id: int) -> str | Response:
    user = get_user(db.session, current_user, user_id)
    form = EditUserForm(
        data={"role": user.role, "region": user.region_code or "", "active": user.active}
    )
    if form.validate_on_submit():
        try:
            changed = update_user(
                db.session,
                current_user,
                user,
                role=form.role.data,
                region_code=form.region.data,
                active=form.active.data,
            )
        except UserError as error:
            _refused(form, error)
        else:
            db.session.commit()
            if changed:
                flash(_("User %(name)s saved.", name=user.username), "info")
            else:
                flash(_("Nothing changed."), "info")
            return redirect(url_for("admin.users"))
    return render_template("admin/edit_user.html", form=form, user=user, roles=ROLE_LABELS)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@role_required(ADMIN)
def user_password(user_id: int) -> str | Response:
    user = get_user(db.session, current_user, user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            reset_password(db.session, current_user, user, form.password.data or "")
        except UserError as error:
            _refused(form, error)
        else:
            db.session.commit()
            if user.id == current_user.id:
                remember_password(user)  # the admin's own session stays; others are logged out
            flash(_("The password of %(name)s has been reset.", name=user.username), "info")
            return redirect(url_for("admin.users"))
    return render_template("admin/password.html", form=form, user=user)


def _refused(form: FlaskForm, error: UserError) -> None:
    """Roll back and show the service's reason next to its field (or above the form)."""
    db.session.rollback()
    reason = error.zh if error.zh and str(get_locale()) != "en" else error.en
    reason = reason[:1].upper() + reason[1:]  # a sentence on the page; a line in the CLI
    if error.field and error.field in form:
        form[error.field].errors = [*form[error.field].errors, reason]
    else:
        flash(reason, "error")
