"""`flask db upgrade`."""
from __future__ import annotations

import logging

import click
from flask.cli import AppGroup

from chatcenter import runtime
from chatcenter.cli.one_line import one_line_errors


@click.group("db", cls=AppGroup, help="Database schema.")
def db_group():
    pass


@db_group.command("upgrade", help="Create the schema on a new database or upgrade an existing one.")
@one_line_errors
def db_upgrade():
    # Alembic narrates every plugin (on import) and step at INFO; the result line is enough.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from chatcenter import migrate  # Alembic is heavy: loaded only for this command

    before, after = migrate.upgrade(runtime.get().db.engine)
    if before is None:
        click.echo(f"database schema created (revision {after})")
    elif before != after:
        click.echo(f"database schema upgraded from revision {before} to {after}")
    else:
        click.echo(f"database schema is up to date (revision {after})")
