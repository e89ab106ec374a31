"""Long work (imports, checks, report batches) as job rows: status and progress in the database,
so any web worker can show them and a job left behind by a dead process can be marked failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from feecheck.models.base import Base, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in JOB_STATUSES) + ")", name="status_enum"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # a key of services.jobs.KINDS
    status: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None]
    message: Mapped[str | None] = mapped_column(Text)  # why it failed, bilingual
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    runner: Mapped[str] = mapped_column(String(16), default="thread")  # thread | rq
    worker: Mapped[str | None] = mapped_column(String(80))  # host:pid running it
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
