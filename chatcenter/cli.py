"""`flask --app chatcenter ...` commands for operators."""
from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from chatcenter.models import Chat, Seller, SyncState
from chatcenter.sentry_check import sentry_check_command


def _runtime():
    return current_app.extensions["chatcenter"]


@click.group("db", cls=AppGroup, help="Database schema.")
def db_group():
    pass


@db_group.command("upgrade", help="Create the schema on a new database or upgrade an existing one.")
def db_upgrade():
    from chatcenter import migrate  # Alembic is heavy: loaded only for this command

    migrate.upgrade(_runtime().db.engine)
    click.echo("database schema is up to date")


@click.group("sellers", cls=AppGroup, help="Marketplace sellers whose chats are synced.")
def sellers_group():
    pass


def _read_token() -> str:
    if sys.stdin.isatty():
        token = click.prompt("WB API token", hide_input=True, err=True)
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise click.UsageError("no WB token on standard input (e.g. `printf %s \"$TOKEN\" | flask ... sellers add NAME`)")
    if any(ord(c) < 33 or ord(c) == 127 for c in token):
        raise click.UsageError("the WB token contains spaces or control characters")
    return token


@sellers_group.command("add", help="Add a seller; the WB token is read from standard input, never the command line.")
@click.argument("name")
def sellers_add(name: str):
    name = name.strip()
    if not name or len(name) > 200:
        raise click.UsageError("NAME must be 1 to 200 characters")
    token = _read_token()
    with _runtime().db.session() as session:
        seller = Seller(name=name, wb_token=token, active=True, sync_state=SyncState.IDLE)
        session.add(seller)
        session.flush()
        seller_id = seller.id
    click.echo(f"seller {name!r} added; it will be synced in the next periodic round")
    click.echo(seller_id)


@sellers_group.command("set-token", help="Replace a seller's WB token (from standard input) and resume its syncs.")
@click.argument("seller_id", type=int)
def sellers_set_token(seller_id: int):
    token = _read_token()
    with _runtime().db.session() as session:
        seller = session.get(Seller, seller_id)
        if seller is None:
            raise click.UsageError(f"seller {seller_id} does not exist")
        seller.wb_token = token
        seller.sync_state = SyncState.IDLE  # an auth_error seller is synced again
        seller.last_error = None
    click.echo(f"token of seller {seller_id} replaced; syncs resume")


@sellers_group.command("list", help="List sellers with their sync state.")
def sellers_list():
    with _runtime().db.session() as session:
        for seller in session.query(Seller).order_by(Seller.id):
            synced = seller.last_synced_at.isoformat() if seller.last_synced_at else "never"
            error = f"  ({seller.last_error})" if seller.last_error else ""
            click.echo(f"{seller.id}\t{seller.name}\t{seller.sync_state}\tlast synced: {synced}{error}")


def _require(model, row_id: int, what: str) -> None:
    with _runtime().db.session() as session:
        if session.get(model, row_id) is None:
            raise click.UsageError(f"{what} {row_id} does not exist")


@click.command("sync", help="Sync a seller's chats from WB: enqueue it, or run it here with --now.")
@click.argument("seller_id", type=int)
@click.option("--now", is_flag=True, help="run in this process and print what it added")
@with_appcontext
def sync_command(seller_id: int, now: bool):
    _require(Seller, seller_id, "seller")
    if now:
        from jobs.sync import sync_seller_chats

        result = sync_seller_chats(seller_id)
        if "skipped" in result:
            click.echo(f"sync of seller {seller_id} skipped: {result['skipped']}")
        else:
            click.echo(f"seller {seller_id}: {result['chats_added']} chats and {result['messages_added']} "
                       f"messages added, {result['analyses_enqueued']} analyses enqueued")
        return
    from chatcenter.queues import enqueue_sync

    click.echo(enqueue_sync(_runtime(), seller_id).message)


@click.command("analyze", help="Analyse a chat with DeepSeek: enqueue it, or run it here with --now.")
@click.argument("chat_id", type=int)
@click.option("--now", is_flag=True, help="run in this process and print the stored analysis as JSON")
@with_appcontext
def analyze_command(chat_id: int, now: bool):
    _require(Chat, chat_id, "chat")
    if now:
        from jobs.analysis import analyze_chat_with_ai

        result = analyze_chat_with_ai(chat_id)
        click.echo(json.dumps(result["analysis"], ensure_ascii=False, indent=2))
        return
    from chatcenter.queues import enqueue_analysis

    click.echo(enqueue_analysis(_runtime(), chat_id).message)


def register_commands(app: Flask) -> None:
    for command in (db_group, sellers_group, sync_command, analyze_command, sentry_check_command):
        app.cli.add_command(command)
