"""Daily certificate expiry reminders, 30 and 7 days ahead, sent as system campaigns.

One campaign per certificate type and expiry day, through the same fan-out and delivery as
an officer's campaign. Its ``dedupe_key`` makes a second run on the same day (cron firing
twice, a manual re-run) add nothing. A missed day can be caught up with ``--date``.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from backend.extensions import db
from backend.models import Certificate, CertificateType
from backend.services.tx import transactional
from notifications import campaigns
from notifications.audiences import today
from notifications.models import Campaign
from notifications.templates import format_date

REMINDER_DAYS = (30, 7)
CATEGORY = "certificate_expiry"
_TITLE_LENGTH = Campaign.__table__.c.title.type.length


@transactional
def schedule_expiry_reminders(on: date | None = None) -> list[Campaign]:
    """Create the reminder campaigns due on day ``on`` (default: today in Shanghai)."""
    on = on or today()
    created = []
    for days in REMINDER_DAYS:
        expires_on = on + timedelta(days=days)
        types = db.session.scalars(
            select(CertificateType)
            .where(
                CertificateType.id.in_(
                    select(Certificate.type_id).where(
                        Certificate.status == "valid", Certificate.expires_on == expires_on
                    )
                )
            )
            .order_by(CertificateType.id)
        ).all()
        for cert_type in types:
            key = f"expiry:{cert_type.code}:{expires_on.isoformat()}"
            if db.session.scalar(select(Campaign.id).where(Campaign.dedupe_key == key)):
                continue
            when = format_date(expires_on)
            created.append(
                campaigns.create_system(
                    cert_type.department_id,
                    CATEGORY,
                    {
                        "title": _title(cert_type.name, days),
                        "body": f"您的{cert_type.name}将于{when}到期,请及时办理延续或换发。",
                        "data": {
                            "certificate": cert_type.name,
                            "expires_on": expires_on.isoformat(),
                        },
                        "audience": {
                            "kind": "certificates_expiring_on",
                            "certificate_type": cert_type.code,
                            "expires_on": expires_on.isoformat(),
                        },
                        "dedupe_key": key,
                    },
                )
            )
    return created


def _title(type_name: str, days: int) -> str:
    """The reminder's title, the type's name shortened to fit the column (a name may be as
    long as the column itself, and one failing insert would stop every type's reminders)."""
    suffix = f"将于{days}天后到期"
    if len(type_name) + len(suffix) > _TITLE_LENGTH:
        type_name = type_name[: _TITLE_LENGTH - len(suffix) - 1] + "…"
    return type_name + suffix
