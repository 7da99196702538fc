"""`flask api-keys create NAME [--seller ID ...] [--read-only] | list | revoke ID`: keys for the
operators' JSON API, for every seller or some, read-write or read-only."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from chatcenter import api_keys, runtime
from chatcenter.errors import BadInput
from chatcenter.actions import NotFound
from chatcenter.cli.one_line import CommandFailed, one_line_errors
from chatcenter.contract import ID_MAX


@click.group("api-keys", cls=AppGroup, help="Keys for the JSON API (Authorization: Bearer <key>).")
def api_keys_group():
    pass


@api_keys_group.command("create", help="Create a key; it is printed once, as the last line. Only its hash is stored. "
                        "--seller (repeatable): the key sees only those sellers (anything else answers 404); "
                        "--read-only: every POST, PATCH and DELETE answers 403.")
@click.argument("name")
@click.option("--seller", "sellers", type=click.IntRange(1, ID_MAX), multiple=True, metavar="SELLER_ID",
              help="limit the key to this seller (repeat for more); default: every seller")
@click.option("--read-only", is_flag=True, help="the key may read but not sync, analyse, reply or change anything")
@one_line_errors
def api_keys_create(name: str, sellers: tuple[int, ...], read_only: bool):
    try:
        with runtime.get().db.session() as session:
            created = api_keys.create(session, name, sellers=list(sellers) or None, read_only=read_only)
    except BadInput as exc:
        raise click.UsageError(str(exc)) from None
    except NotFound as exc:
        raise CommandFailed(str(exc)) from None
    click.echo(f"API key {created.id} ({created.name}) created for {_reach(list(sellers) or None, read_only)}. "
               "Store it now: it is shown this once, and only its hash is kept.")
    click.echo(created.key)


def _reach(sellers: list[int] | None, read_only: bool) -> str:
    """"all sellers, read-write", "sellers 1, 2, read-only"."""
    if sellers is None:
        which = "all sellers"
    else:
        which = f"seller{'s' if len(sellers) > 1 else ''} {', '.join(map(str, sellers))}" if sellers else "no sellers"
    return f"{which}, {'read-only' if read_only else 'read-write'}"


@api_keys_group.command("list", help="List keys: id, name, created, last used, revoked. Never the keys.")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@one_line_errors
def api_keys_list(as_json: bool):
    with runtime.get().db.session() as session:
        keys = api_keys.list_keys(session)
    if as_json:
        click.echo(json.dumps(keys, ensure_ascii=False, indent=2))
        return
    for key in keys:
        state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "active"
        click.echo(f"{key['id']}\t{key['name']}\t{_reach(key['sellers'], key['read_only'])}\t"
                   f"created {key['created_at']}\tlast used {key['last_used_at'] or 'never'}\t{state}")


@api_keys_group.command("revoke", help="Revoke a key: requests with it are refused from now on.")
@click.argument("key_id", type=int)
@one_line_errors
def api_keys_revoke(key_id: int):
    try:
        with runtime.get().db.session() as session:
            key, was_live = api_keys.revoke(session, key_id)
            name = key.name
    except NotFound as exc:
        raise CommandFailed(f"{exc}: see `flask api-keys list`") from None
    click.echo(f"API key {key_id} ({name}) {'revoked' if was_live else 'was already revoked'}")
