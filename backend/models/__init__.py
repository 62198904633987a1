"""All models, imported here so metadata and migrations see every table."""

from backend.models import service_items  # noqa: F401  (service items domain)
from backend.models.accounts import ROLE_LABELS, CompanyRepresentative, Person, Role, User
from backend.models.certificate_imports import CertificateImport
from backend.models.certificate_types import CertificateType
from backend.models.certificates import Certificate, CertificateSeal, SerialCounter
from backend.models.codes import UsageRecord
from backend.models.complaints import Complaint
from backend.models.organisations import Company, Department, VerifierOrganisation
from backend.models.seals import SealKey
from backend.models.themes import ThemeBundle  # noqa: F401  (all its tables)
from backend.models.verification import VerificationRequest  # noqa: F401  (all its tables)
from notifications.models import Notification

ROLE_LABELS_BY_VALUE = {role.value: label for role, label in ROLE_LABELS.items()}

__all__ = [
    "ROLE_LABELS",
    "ROLE_LABELS_BY_VALUE",
    "Certificate",
    "CertificateImport",
    "CertificateSeal",
    "CertificateType",
    "Company",
    "Complaint",
    "CompanyRepresentative",
    "Department",
    "Notification",
    "Person",
    "Role",
    "SealKey",
    "SerialCounter",
    "UsageRecord",
    "User",
    "VerifierOrganisation",
]
