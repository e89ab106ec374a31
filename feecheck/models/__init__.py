"""Typed SQLAlchemy models. No Flask import here: services and tests use plain Sessions."""

from feecheck.models.audit import AuditEntry, ImportBatch
from feecheck.models.base import Base
from feecheck.models.finding import CheckRun, Finding
from feecheck.models.kindergarten import Child, FiledAccount, Kindergarten
from feecheck.models.records import Absence, Charge, FeeStandard, Funding, Inspection, Refund
from feecheck.models.user import User

__all__ = [
    "Absence",
    "AuditEntry",
    "Base",
    "Charge",
    "CheckRun",
    "Child",
    "FeeStandard",
    "FiledAccount",
    "Finding",
    "Funding",
    "ImportBatch",
    "Inspection",
    "Kindergarten",
    "Refund",
    "User",
]
