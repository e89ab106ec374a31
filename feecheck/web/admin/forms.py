"""Forms of the users page: create, edit (role, region, active), reset the password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError

from feecheck.domain.categories import Role
from feecheck.services.users import MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH, MIN_PASSWORD_LENGTH

ROLE_LABELS = {
    Role.INSPECTOR.value: _l("Inspector"),
    Role.SUPERVISOR.value: _l("Supervisor"),
    Role.ADMIN.value: _l("Admin"),
}
ROLE_CHOICES = [SelectChoice(code, label) for code, label in ROLE_LABELS.items()]


def _region_field() -> StringField:
    return StringField(
        _l("Region code"),
        filters=[lambda text: (text or "").strip()],
        # Not Optional(): that would skip validate_region when the field is empty.
        validators=[Regexp(r"^(\d{6})?$", message=_l("A region code has 6 digits."))],
        description=_l("6 digits; may be empty for an admin (the whole country)."),
    )


def _password_fields() -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l(
                    "Between %(min)d and %(max)d characters.",
                    min=MIN_PASSWORD_LENGTH,
                    max=MAX_PASSWORD_LENGTH,
                ),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    return password, confirm


class _RegionByRole:
    """Inspectors and supervisors need a region; admins may have none."""

    role: SelectField

    def validate_region(self, field: Field) -> None:
        if not field.data and self.role.data != Role.ADMIN.value:
            raise ValidationError(_l("Inspectors and supervisors need a region code."))


class NewUserForm(_RegionByRole, FlaskForm):
    username = StringField(
        _l("User name"),
        filters=[lambda text: (text or "").strip()],
        validators=[DataRequired(), Length(max=MAX_USERNAME_LENGTH)],
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.INSPECTOR.value)
    region = _region_field()
    password, confirm = _password_fields()
    submit = SubmitField(_l("Create the user"))


class EditUserForm(_RegionByRole, FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    region = _region_field()
    active = BooleanField(_l("Active (may log in)"))
    submit = SubmitField(_l("Save"))


class PasswordForm(FlaskForm):
    password, confirm = _password_fields()
    submit = SubmitField(_l("Set the new password"))
