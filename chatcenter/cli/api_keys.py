"""`flask api-keys create NAME | list | revoke ID`: keys for the operators' JSON API."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from chatcenter import api_keys, runtime
from chatcenter.actions import InvalidInput, NotFound
from chatcenter.cli.failures import CommandFailed, one_line_errors


@click.group("api-keys", cls=AppGroup, help="Keys for the JSON API (Authorization: Bearer <key>).")
def api_keys_group():
    pass


@api_keys_group.command("create", help="Create a key; it is printed once, as the last line. Only its hash is stored.")
@click.argument("name")
@one_line_errors
def api_keys_create(name: str):
    try:
        with runtime.get().db.session() as session:
            created = api_keys.create(session, name)
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"API key {created.id} ({created.name}) created. Store it now: it is shown this once, "
               "and only its hash is kept.")
    click.echo(created.key)


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
        click.echo(f"{key['id']}\t{key['name']}\tcreated {key['created_at']}\t"
                   f"last used {key['last_used_at'] or 'never'}\t{state}")


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
