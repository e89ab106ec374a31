from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, SubmitField

RECORD_TYPE_LABELS = {
    "kindergartens": _l("Kindergartens"),
    "children": _l("Children"),
    "fee-standards": _l("Fee standards"),
    "charges": _l("Charges"),
    "funding": _l("Funding"),
    "refunds": _l("Refunds"),
    "absences": _l("Absences"),
    "inspections": _l("Inspections"),
}
WORKBOOK_LABEL = _l("Workbook: every sheet named after a type")


class UploadForm(FlaskForm):
    record_type = SelectField(
        _l("Record type"),
        choices=[
            *(SelectChoice(name, label) for name, label in RECORD_TYPE_LABELS.items()),
            SelectChoice("workbook", WORKBOOK_LABEL),
        ],
    )
    file = FileField(_l("CSV file or Excel workbook (.xlsx)"), validators=[FileRequired()])
    encoding = SelectField(
        _l("Encoding"),
        choices=[
            SelectChoice("auto", _l("Automatic (UTF-8, then GB18030)")),
            SelectChoice("utf-8", "UTF-8"),
            SelectChoice("gb18030", "GB18030 / GBK"),
        ],
        default="auto",
    )
    region = SelectField(
        _l("District of a list without a region column"),
        choices=[SelectChoice("", _l("The file has a region column"))],
        default="",
        validate_choice=True,
    )
    atomic = BooleanField(_l("All or nothing: import nothing if any row is rejected"))
    submit = SubmitField(_l("Check the file"))


class ConfirmForm(FlaskForm):
    submit = SubmitField(_l("Import the valid rows"))
