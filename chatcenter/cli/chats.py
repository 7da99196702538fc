"""`flask chats list [--awaiting] [--json]`: the chats and their latest analyses, for
operators without the API (the same query the API and the inbox use)."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from chatcenter import runtime
from chatcenter.cli.one_line import one_line_errors
from chatcenter.queries import MAX_LIMIT, ChatFilter, list_chats
from chatcenter.scope import EVERYTHING


@click.group("chats", cls=AppGroup, help="Buyers' chats.")
def chats_group():
    pass


@chats_group.command("list", help="List chats, newest activity first; with --awaiting, the ones awaiting "
                                  "a reply, most urgent and longest waiting first.")
@click.option("--awaiting", is_flag=True, help="only chats whose buyer waits for an answer")
@click.option("--seller", "seller_id", type=click.IntRange(min=1), help="only this seller's chats")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="at most this many")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array (the API's chat objects)")
@one_line_errors
def chats_list(awaiting: bool, seller_id: int | None, limit: int, as_json: bool):
    filters = ChatFilter(seller_id=seller_id, awaiting_reply=True if awaiting else None)
    order = "queue" if awaiting else "activity"
    chats, cursor = [], None
    with runtime.get().db.session() as session:
        while len(chats) < limit:
            # The shell's user has the database: every seller.
            page = list_chats(session, filters, scope=EVERYTHING, order=order,
                              limit=min(MAX_LIMIT, limit - len(chats)), cursor=cursor)
            chats += page.chats
            cursor = page.next_cursor
            if cursor is None:
                break
    if as_json:
        click.echo(json.dumps(chats, ensure_ascii=False, indent=2))
        return
    for chat in chats:
        click.echo(_line(chat))


def _line(chat: dict) -> str:
    analysis = chat["analysis"]
    labels = "/".join((analysis["urgency"], analysis["sentiment"], analysis["category"])) if analysis else "not analysed"
    waiting = f"awaiting since {chat['waiting_since']}" if chat["awaiting_reply"] else "answered"
    last = chat["last_message"]
    preview = " ".join(last["text"].split())[:80] if last else ""
    return (f"{chat['id']}\tseller {chat['seller_id']}\t{chat['buyer_first_name'] or '-'}\t{waiting}\t"
            f"{labels}\t{chat['last_activity_at']}\t{preview}")
