"""The database: engine creation (SQLite WAL or PostgreSQL), migrations, and sessions."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Engine, Table, create_engine, event, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from chatbot.storage.models import KeyValue

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration (a test keeps it in step with migrations/versions): a start that finds the
# database there need not load Alembic, which costs more than the rest of a start.
SCHEMA_HEAD = "0003"


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to date; safe to call at every start."""
    if revision == "head" and schema_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command

    migrating = _transactional_ddl(engine)
    try:
        command.upgrade(alembic_config(migrating), revision)
    finally:
        if migrating is not engine:
            migrating.dispose()


def _transactional_ddl(engine: Engine) -> Engine:
    """On SQLite, an engine whose transactions hold DDL too: pysqlite runs CREATE and ALTER outside
    any transaction, so a start killed halfway through its first migration would leave tables
    without the version that says they exist, and every later start would fail on them."""
    if engine.dialect.name != "sqlite":
        return engine
    migrating = create_db_engine(engine.url.render_as_string(hide_password=False))

    @event.listens_for(migrating, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(migrating, "begin")
    def _begin(connection):
        # IMMEDIATE: two processes starting at once migrate one after the other.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return migrating


def schema_revision(engine: Engine) -> str | None:
    """The migration the database is at; None before the first."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no such table yet
        return None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def writing(db: Engine) -> Iterator[Session]:
    """A transaction that writes: on SQLite it takes the write lock first, so a read made in it
    cannot be overtaken by another process (PostgreSQL uses row locks instead)."""
    with session_scope(db) as session:
        if db.dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield session


def insert_for(session: Session):
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def get_value(session: Session, *, key: str) -> str | None:
    """A small piece of bot state kept in the database (e.g. a hash of what was last synced)."""
    found = session.get(KeyValue, key)
    return found.value if found else None


def put_value(session: Session, *, key: str, value: str) -> None:
    found = session.get(KeyValue, key)
    if found is None:
        session.add(KeyValue(key=key, value=value))
    else:
        found.value = value


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows with the same keys into one table: with COPY on PostgreSQL, else with the driver's
    executemany.

    SQLAlchemy's executemany builds and converts each row's parameters one by one, which for a
    short row costs more than the database's insert itself (and psycopg's executemany sends a
    statement per row). Here the statement is compiled once, and a column's conversion (a
    timestamp to SQLite's text, say) runs once per distinct value: the rows of one batch share
    their timestamp and flags. Such values must be hashable."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    sql, names, converters = _insert_plan(dialect, table, tuple(rows[0]))
    pick = operator.itemgetter(*names)
    params: list[Any] = [pick(row) for row in rows] if len(names) > 1 else [(row[names[0]],) for row in rows]
    for index, convert in converters:
        converted = functools.lru_cache(maxsize=64)(convert)  # hashable values, few distinct
        params = [(*values[:index], converted(values[index]), *values[index + 1:]) for values in params]
    if dialect.driver == "psycopg":
        try:
            with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
                for values in params:
                    copy.write_row(values)
        except dialect.loaded_dbapi.Error as error:  # as SQLAlchemy would raise it: IntegrityError, ...
            raise DBAPIError.instance(sql, None, error, dialect.loaded_dbapi.Error) from error
        return
    if not dialect.positional:
        params = [dict(zip(names, values)) for values in params]
    connection.exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=32)
def _insert_plan(dialect: Dialect, table: Table, columns: tuple[str, ...]):
    """The statement for these columns in the dialect's own syntax (COPY for psycopg), the order
    its values go in, and the conversions that values of some columns need first."""
    if dialect.driver == "psycopg":
        quote = dialect.identifier_preparer.quote
        names = columns
        sql = (f"COPY {dialect.identifier_preparer.format_table(table)} "
               f"({', '.join(quote(name) for name in names)}) FROM STDIN")
    else:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        names = tuple(compiled.positiontup) if dialect.positional else columns
        sql = compiled.string
    converters = [(index, convert) for index, name in enumerate(names)
                  if (convert := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))]
    return sql, names, converters
