"""`flask attachments stats` and `flask attachments prune --older-than DAYS`: how much the
stored files take, and removing those of chats long quiet."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from chatcenter import runtime
from chatcenter.attachment_housekeeping import cutoff_for, prune, usage_by_seller, usage_by_state
from chatcenter.cli.one_line import CommandFailed, one_line_errors
from chatcenter.models import utcnow


@click.group("attachments", cls=AppGroup, help="Buyers' and operators' files kept in the database.")
def attachments_group():
    pass


@attachments_group.command("stats", help="Files and bytes by state, and the stored ones per seller.")
@one_line_errors
def stats():
    with runtime.get().db.session() as session:
        by_state, by_seller = usage_by_state(session), usage_by_seller(session)
    for state, files, size in by_state:
        click.echo(f"{state}\t{files} files\t{size} bytes ({_mb(size)})")
    for seller_id, name, files, size in by_seller:
        click.echo(f"seller {seller_id}\t{name}\t{files} files stored\t{size} bytes ({_mb(size)})")


@attachments_group.command("prune", help="Remove the files of chats without activity for DAYS days "
                                         "(default: ATTACHMENTS_KEEP_DAYS), and say which.")
@click.option("--older-than", "days", type=click.IntRange(1, 36500), metavar="DAYS",
              help="chats whose last activity is older than this many days")
@click.option("--dry-run", is_flag=True, help="say what would be removed, remove nothing")
@one_line_errors
def prune_command(days: int | None, dry_run: bool):
    resources = runtime.get()
    days = days or resources.settings.attachments_keep_days
    if days is None:
        raise CommandFailed("no age given: pass --older-than DAYS, or set ATTACHMENTS_KEEP_DAYS (empty keeps "
                            "every file)")
    with resources.db.session() as session:
        removed = prune(session, cutoff_for(days, utcnow()), dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for chat in removed:
        click.echo(f"chat {chat.chat_id} (seller {chat.seller_id}): {verb} {chat.files} files, {chat.bytes} bytes")
    files, size = sum(c.files for c in removed), sum(c.bytes for c in removed)
    click.echo(f"{verb} {files} files ({size} bytes, {_mb(size)}) of {len(removed)} chats without activity "
               f"for {days} days")


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"
