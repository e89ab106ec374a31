"""Users: inspectors, supervisors and admins, each scoped to a region (None: the whole country)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from feecheck.domain.categories import Role
from feecheck.domain.regions import within
from feecheck.models.base import Base, enum_check, region_code_check, utcnow


class User(Base):
    __tablename__ = "users"
    __table_args__ = (enum_check("role", Role), region_code_check(nullable=True))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(String(6))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # bumped when the user logs out: every session cookie made before stops working
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Flask-Login protocol, kept here as plain properties so models need no Flask import.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def can_see(self, district_code: str) -> bool:
        return within(district_code, self.region_code)
