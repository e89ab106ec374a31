"""Import batches and the append-only audit log (triggers in the migration refuse UPDATE/DELETE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feecheck.models.base import Base, utcnow

IMPORT_STATUSES = ("pending", "running", "dry_run", "committed", "rejected", "failed")


class ImportBatch(Base):
    __tablename__ = "import_batches"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in IMPORT_STATUSES) + ")", name="status_enum"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    encoding: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    atomic: Mapped[bool] = mapped_column(default=False)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0, server_default="0")  # progress
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list[Any]] = mapped_column(default=list)
    warnings: Mapped[list[Any] | None]
    message: Mapped[str | None] = mapped_column(Text)  # why a file could not be read at all
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    fill_region: Mapped[str | None] = mapped_column(String(6))  # --region / the page's selector
    worker: Mapped[str | None] = mapped_column(String(80))  # host:pid of the process running it
    heartbeat_at: Mapped[datetime | None]  # last chunk committed


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    table_name: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    note: Mapped[str | None] = mapped_column(Text)
