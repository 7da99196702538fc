"""`flask sellers add|set-token|list`."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from chatcenter import runtime
from chatcenter.cli.one_line import one_line_errors
from chatcenter.clients.wb import token_problem
from chatcenter.models import Seller, SyncState
from chatcenter.queries import list_sellers
from chatcenter.scope import EVERYTHING


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
    problem = token_problem(token)
    if problem:
        raise click.UsageError(problem)
    return token


@sellers_group.command("add", help="Add a seller; the WB token is read from standard input, never the command line.")
@click.argument("name")
@one_line_errors
def sellers_add(name: str):
    name = name.strip()
    if not name or len(name) > 200:
        raise click.UsageError("NAME must be 1 to 200 characters")
    token = _read_token()
    with runtime.get().db.session() as session:
        seller = Seller(name=name, wb_token=token, active=True, sync_state=SyncState.IDLE)
        session.add(seller)
        session.flush()
        seller_id = seller.id
    click.echo(f"seller {name!r} added; it will be synced in the next periodic round")
    click.echo(seller_id)


@sellers_group.command("set-token", help="Replace a seller's WB token (from standard input) and resume its syncs.")
@click.argument("seller_id", type=int)
@one_line_errors
def sellers_set_token(seller_id: int):
    token = _read_token()
    with runtime.get().db.session() as session:
        seller = session.get(Seller, seller_id)
        if seller is None:
            raise click.UsageError(f"seller {seller_id} does not exist")
        seller.wb_token = token
        seller.sync_state = SyncState.IDLE  # an auth_error seller is synced again
        seller.last_error = None
        # What the old token's polls failed with says nothing of the new one; the poller
        # polls the seller as soon as it reads the new token (within a few seconds).
        seller.poll_error = seller.poll_failing_since = None
    click.echo(f"token of seller {seller_id} replaced; syncs resume")


@sellers_group.command("list", help="List sellers with their sync state.")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array (the API's seller objects)")
@one_line_errors
def sellers_list(as_json: bool):
    with runtime.get().db.session() as session:
        sellers = list_sellers(session, scope=EVERYTHING)  # the shell's user has the database
    if as_json:
        click.echo(json.dumps(sellers, ensure_ascii=False, indent=2))
        return
    for seller in sellers:
        error = f"  ({seller['last_error']})" if seller["last_error"] else ""
        click.echo(f"{seller['id']}\t{seller['name']}\t{seller['sync_state']}\t"
                   f"last synced: {seller['last_synced_at'] or 'never'}{error}")
