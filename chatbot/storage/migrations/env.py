"""Alembic environment: runs against the engine the application passes in, or the URL setting."""

from alembic import context
from sqlmodel import SQLModel

from chatbot.storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from chatbot.storage.store import create_db_engine

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    import os

    engine = create_db_engine(os.environ.get("CHATBOT_DATABASE_URL", "sqlite:///chatbot.db"))

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
