"""usage records keep their references without foreign-key locks

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 23:55:00

Every scan inserted a usage record whose seven foreign keys each took a WAL-logged
KEY SHARE lock on the row it names (the member, the organisation, the type, the
department, the certificate, the holder, the person who showed the code). The record
is an append-only log written from rows the same request read, and nothing deletes
what it names: the references stay, the constraints go (see backend/models/codes.py).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# (constraint, column, referenced table)
REFERENCES = [
    ('fk_usage_records_certificate_id_certificates', 'certificate_id', 'certificates'),
    ('fk_usage_records_department_id_departments', 'department_id', 'departments'),
    ('fk_usage_records_holder_company_id_companies', 'holder_company_id', 'companies'),
    ('fk_usage_records_holder_person_id_persons', 'holder_person_id', 'persons'),
    ('fk_usage_records_member_id_users', 'member_id', 'users'),
    (
        'fk_usage_records_organisation_id_verifier_organisations',
        'organisation_id',
        'verifier_organisations',
    ),
    ('fk_usage_records_shown_by_id_users', 'shown_by_id', 'users'),
    ('fk_usage_records_type_id_certificate_types', 'type_id', 'certificate_types'),
]


def upgrade():
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        for name, _, _ in REFERENCES:
            batch_op.drop_constraint(name, type_='foreignkey')


def downgrade():
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        for name, column, table in REFERENCES:
            batch_op.create_foreign_key(name, table, [column], ['id'])
