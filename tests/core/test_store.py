"""The database: migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from chatbot.storage import models
from chatbot.storage import store


def test_migrations_match_the_models(database_url):
    engine = store.create_db_engine(database_url)
    store.upgrade(engine)
    store.upgrade(engine)  # a second start changes nothing
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_the_schema_head_is_the_newest_migration(database_url):
    """A start skips Alembic when the database is at SCHEMA_HEAD: it must be the real head."""
    assert ScriptDirectory.from_config(store.alembic_config(None)).get_current_head() == store.SCHEMA_HEAD
    engine = store.create_db_engine(database_url)
    assert store.schema_revision(engine) is None
    store.upgrade(engine, "0002")
    assert store.schema_revision(engine) == "0002"
    store.upgrade(engine)
    assert store.schema_revision(engine) == store.SCHEMA_HEAD


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


def test_insert_rows_stores_what_the_orm_would(database_url):
    """The driver-level insert (COPY on PostgreSQL) converts values as SQLAlchemy does: aware UTC
    timestamps, flags, missing ids and odd text read back unchanged, next to rows the ORM wrote;
    a duplicate raises SQLAlchemy's IntegrityError and leaves nothing of its batch."""
    engine = store.create_db_engine(database_url)
    store.upgrade(engine)
    moments = [datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc),
               datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))]
    texts = ["plain", "", "quote ' and %(name)s and ? and %s", "ünïcode 🎉", "x" * 5000]
    rows = [dict(meeting_id=1, person_id=1, kind="update", text=t, apologies=n % 2 == 0, platform="discord",
                 message_id=None if n == 3 else f"m{n}", created_at=moments[n % 2]) for n, t in enumerate(texts)]
    with store.session_scope(engine) as session:
        session.add(models.SeriesRecord(id="hubs", name="Hubs"))
        session.add(models.Person(id=1))
        session.flush()
        session.add(models.Meeting(id=1, series_id="hubs", date=date(2026, 3, 17),
                                   start=moments[0], end=moments[0], status="scheduled"))
        session.flush()
        session.add(models.Update(meeting_id=1, person_id=1, text="by the ORM", platform="slack",
                                  message_id="o1", created_at=moments[1]))
        session.flush()
        store.insert_rows(session, models.Update.__table__, rows)
        store.insert_rows(session, models.Update.__table__, [])  # nothing to do
    with store.session_scope(engine) as session:
        stored = session.exec(select(models.Update).order_by(models.Update.id)).all()
    assert [(u.text, u.apologies, u.message_id, u.created_at) for u in stored] == [
        ("by the ORM", False, "o1", moments[1])] + [
        (r["text"], r["apologies"], r["message_id"], r["created_at"]) for r in rows]
    assert all(u.created_at.tzinfo is not None for u in stored)

    duplicate = dict(rows[0], text="a second delivery")
    with pytest.raises(IntegrityError):  # the batch path of thread replies relies on this
        with store.session_scope(engine) as session:
            store.insert_rows(session, models.Update.__table__, [dict(rows[1], message_id="new"), duplicate])
    with store.session_scope(engine) as session:
        assert len(session.exec(select(models.Update)).all()) == len(stored)  # nothing of that batch


def test_enqueue_says_whether_it_added_the_post(database_url):
    from chatbot.storage import outbox

    engine = store.create_db_engine(database_url)
    store.upgrade(engine)
    key = dict(series_id="hubs", occurrence=date(2026, 12, 15), kind="call_for_updates",
               platform="slack", channel="C1", due=datetime(2026, 12, 8, tzinfo=timezone.utc))
    with store.session_scope(engine) as session:
        assert outbox.enqueue(session, **key) is True
        assert outbox.enqueue(session, **key) is False  # the same key: nothing added
    with store.session_scope(engine) as session:
        assert len(session.exec(select(models.Outbox)).all()) == 1


def test_a_migration_that_fails_halfway_leaves_nothing_behind(sqlite_url):
    # A later table of the first migration is in the way, so it fails after creating the earlier ones.
    engine = store.create_db_engine(sqlite_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (id INTEGER PRIMARY KEY)")
    with pytest.raises(Exception):
        store.upgrade(engine)
    with engine.connect() as connection:
        tables = {row[0] for row in connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"note"}  # neither `keyvalue` nor `alembic_version` was left half-made
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE note")
    store.upgrade(engine)  # and the next start migrates cleanly
    assert store.schema_revision(engine) == store.SCHEMA_HEAD
