"""The database: migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from chatbot import models  # noqa: F401  (the tables)
from chatbot import store


def test_migrations_match_the_models(database_url):
    engine = store.create_db_engine(database_url)
    store.upgrade(engine)
    store.upgrade(engine)  # a second start changes nothing
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_sqlite_uses_wal(sqlite_url):
    engine = store.create_db_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_pasted_postgres_urls_use_psycopg3():
    assert store.normalise_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert store.normalise_url("sqlite:///x.db") == "sqlite:///x.db"
