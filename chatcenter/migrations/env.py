"""Alembic environment: runs on the connection handed over by chatcenter.migrate."""
from alembic import context

from chatcenter import search_index
from chatcenter.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    include_object=search_index.include_object,  # the full-text index is not in the models
)
with context.begin_transaction():
    context.run_migrations()
