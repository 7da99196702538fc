"""Schema management with Alembic, driven from code (no alembic.ini to keep in sync)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Create the schema on a new database, or bring an existing one up to `revision`.
    Returns the revisions before and after (None before: the schema was created)."""
    with engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(_config(connection), revision)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new revision from the models (a developer's tool)."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
