"""`flask templates list | add NAME | remove ID`: the team's saved replies (text from stdin)."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from chatcenter import runtime, saved_replies
from chatcenter.errors import BadInput, Conflict, NotFound
from chatcenter.cli.one_line import CommandFailed, one_line_errors


@click.group("templates", cls=AppGroup, help="Saved replies: reply templates with {buyer_name} and {nm_id}.")
def templates_group():
    pass


@templates_group.command("list", help="List saved replies: id, name, text.")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@one_line_errors
def templates_list(as_json: bool):
    with runtime.get().db.session() as session:
        saved = saved_replies.list_all(session)
    if as_json:
        click.echo(json.dumps(saved, ensure_ascii=False, indent=2))
        return
    for template in saved:
        click.echo(f"{template['id']}\t{template['name']}\t{template['text']!r}")


@templates_group.command("add", help="Save a reply named NAME; its text is read from standard input. "
                                     "Prints the new id as the last line.")
@click.argument("name")
@one_line_errors
def templates_add(name: str):
    if sys.stdin.isatty():
        click.echo("Type the text, then Ctrl-D:", err=True)
    text = sys.stdin.read()
    try:
        with runtime.get().db.session() as session:
            saved = saved_replies.create(session, name, text)
    except BadInput as exc:
        raise CommandFailed(f"not saved: {exc}") from None
    except Conflict as exc:
        raise CommandFailed(f"not saved: {exc.detail}: choose another name or remove it (`flask templates list`)") \
            from None
    click.echo(f"Saved reply {saved['id']} ({saved['name']}) added.")
    click.echo(saved["id"])


@templates_group.command("remove", help="Delete the saved reply with this id.")
@click.argument("template_id", type=int)
@one_line_errors
def templates_remove(template_id: int):
    try:
        with runtime.get().db.session() as session:
            saved_replies.remove(session, template_id)
    except NotFound as exc:
        raise CommandFailed(f"{exc}: see `flask templates list`") from None
    click.echo(f"Saved reply {template_id} removed.")
