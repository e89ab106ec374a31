"""Typed SQLAlchemy models. No Flask import here: services and tests use plain Sessions."""

from feecheck.models.attendance import Absence
from feecheck.models.audit import AuditEntry, ImportBatch
from feecheck.models.base import Base
from feecheck.models.charges import Charge, FeeStandard, Refund
from feecheck.models.finding import CheckRun, Finding, FindingEvent
from feecheck.models.funding import Funding
from feecheck.models.inspections import Inspection
from feecheck.models.jobs import Job
from feecheck.models.kindergarten import Child, FiledAccount, Kindergarten
from feecheck.models.notices import Notice, NoticeFinding, NoticeFollowUp
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
    "FindingEvent",
    "Funding",
    "ImportBatch",
    "Inspection",
    "Job",
    "Kindergarten",
    "Notice",
    "NoticeFinding",
    "NoticeFollowUp",
    "Refund",
    "User",
]
