"""`flask pollers`: the poller processes, live and gone, and what each holds."""
from __future__ import annotations

import json

import click

from chatcenter import runtime
from chatcenter.cli.one_line import one_line_errors
from chatcenter.poller.membership import pollers


@click.command("pollers", help="List the poller processes: live ones with the sellers each holds, then gone ones.")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@one_line_errors
def pollers_command(as_json: bool):
    found = [p.as_dict() for p in pollers(runtime.get().redis)]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no poller has run in the last hour (start one: `python -m chatcenter.poller`)")
        return
    for p in found:
        state = "live" if p["live"] else "gone"
        sellers = f"{p['sellers']} seller{'' if p['sellers'] == 1 else 's'}"
        held = sellers if p["live"] else f"last beat {p['last_beat_at']}"
        click.echo(f"{p['id']}\t{state}\t{held}\tlast poll: {p['last_poll_at'] or 'never'}")
