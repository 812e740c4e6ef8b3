"""The schema only changes through migrations, and the migrations match the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from syncer.store import database
from syncer.store.tables import Base


def test_upgrade_from_empty_reaches_head(database_url):
    engine = database.create_engine(database_url)
    try:
        assert database.current_revision(engine) is None
        assert database.upgrade(engine) == database.head_revision()
        tables = set(sa.inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine):
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_upgrade_twice_is_a_no_op(engine):
    assert database.upgrade(engine) == database.head_revision()


def test_downgrade_to_base_and_back(engine):
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(database._alembic_config(conn), "base")
    assert "calls" not in sa.inspect(engine).get_table_names()
    assert database.upgrade(engine) == database.head_revision()
