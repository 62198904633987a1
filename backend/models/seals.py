"""Department seals: signing keys whose public halves form the published trust list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.base import CreatedMixin, UTCDateTime
from backend.models.organisations import Department

# current: signs and verifies; previous: verifies only (after rotation);
# retired: no longer verifies; revoked: compromised, nothing it signed is trusted.
SEAL_STATES = ("current", "previous", "retired", "revoked")


class SealKey(CreatedMixin, db.Model):
    __tablename__ = "seal_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="ed25519")
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # AES-GCM with the data-encryption key; never leaves the service layer decrypted.
    private_key_cipher: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="current")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revocation_reason: Mapped[str | None] = mapped_column(String(200))

    department: Mapped[Department] = relationship()
