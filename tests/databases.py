"""Empty databases for tests and benchmarks: a SQLite file, or a throwaway PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from chatbot.storage.store import normalise_url


@contextmanager
def postgresql_schema(base: str) -> Iterator[str]:
    """A new schema in the PostgreSQL database `base` names, dropped afterwards: the URL of it."""
    url = normalise_url(base)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def empty_database(database: str, folder: Path) -> Iterator[str]:
    """`sqlite` for a new file in `folder`, or a PostgreSQL URL for a new schema in that database."""
    if database == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    with postgresql_schema(database) as url:
        yield url
