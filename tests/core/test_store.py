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


def test_apologies_stored_before_replies_could_take_them_back_stay(database_url):
    engine = store.create_db_engine(database_url)
    store.upgrade(engine, "0002")
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO series (id, name) VALUES ('hubs', 'Hubs')",
            "INSERT INTO person (id, name, institution, github) VALUES (1, '', '', ''), (2, '', '', '')",
            "INSERT INTO meeting (id, series_id, date, start, \"end\", status) VALUES"
            " (1, 'hubs', '2022-07-19', '2022-07-19 17:00:00', '2022-07-19 18:00:00', 'scheduled')",
            "INSERT INTO attendance (meeting_id, person_id, status)"
            " VALUES (1, 1, 'apologies'), (1, 2, 'present')",
            "INSERT INTO \"update\" (meeting_id, person_id, kind, text, platform, message_id, created_at)"
            " VALUES (1, 1, 'apologies', '', 'slack', 'm-1', '2022-07-18 12:00:00'),"
            " (1, 2, 'update', 'shipped', 'slack', 'm-2', '2022-07-18 12:00:00')",
        ):
            connection.execute(text(statement))
    store.upgrade(engine)
    with engine.connect() as connection:
        attendance = connection.execute(text("SELECT person_id, by_command FROM attendance")).all()
        updates = connection.execute(text("SELECT message_id, apologies FROM \"update\"")).all()
    assert sorted(attendance) == [(1, "apologies"), (2, "present")]
    assert sorted((m, bool(a)) for m, a in updates) == [("m-1", True), ("m-2", False)]
