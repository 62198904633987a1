"""The migration head builds exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from backend.extensions import db


def _fresh_database_url(app_config, tmp_path) -> tuple[str, callable]:
    url = app_config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        return "sqlite:///" + str(tmp_path / "migrated.sqlite3"), lambda: None
    # PostgreSQL: a throwaway schema in the same database, dropped afterwards.
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
        conn.execute(text("CREATE SCHEMA migration_check"))

    def cleanup():
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
        engine.dispose()

    sep = "&" if "?" in url else "?"
    return url + sep + "options=-csearch_path%3Dmigration_check", cleanup


def test_the_migration_head_matches_the_models(app_config, make_app, tmp_path):
    url, cleanup = _fresh_database_url(app_config, tmp_path)
    try:
        migrated = make_app(SQLALCHEMY_DATABASE_URI=url)
        with migrated.app_context():
            upgrade()
            with db.engine.connect() as conn:
                diff = compare_metadata(
                    MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata
                )
            db.session.remove()
            db.engine.dispose()
        assert diff == [], diff
    finally:
        cleanup()


def test_migrations_are_numbered_in_one_line():
    from pathlib import Path

    versions = sorted(
        p.name for p in (Path(__file__).parent.parent / "backend/migrations/versions").glob("*.py")
    )
    numbers = [name[:4] for name in versions]
    assert numbers == [f"{i:04d}" for i in range(1, len(numbers) + 1)]
