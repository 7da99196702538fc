"""`flask chats list [--awaiting] [--json]`: the chats and their latest analyses, for
operators without the API (the same query the API and the inbox use); `flask chats resolve
| reopen | snooze | assign`: the same changes as PATCH /api/chats/<id>, and `flask chats note`
as POST /api/chats/<id>/notes, recorded as made from the command line."""
from __future__ import annotations

import json
import sys
from datetime import datetime

import click
from flask.cli import AppGroup

from chatcenter import runtime
from chatcenter.chat_status import CLI, STATUSES, change_chat
from chatcenter.cli.one_line import one_line_errors
from chatcenter.errors import BadInput
from chatcenter.notes import add_note
from chatcenter.models import ChatStatus
from chatcenter.operators import find_operator
from chatcenter.queries import MAX_LIMIT, ChatFilter, chat_detail, list_chats
from chatcenter.scope import EVERYTHING


@click.group("chats", cls=AppGroup, help="Buyers' chats.")
def chats_group():
    pass


@chats_group.command("list", help="List chats, newest activity first; with --awaiting, the ones awaiting "
                                  "a reply, most urgent and longest waiting first.")
@click.option("--awaiting", is_flag=True, help="only chats whose buyer waits for an answer")
@click.option("--seller", "seller_id", type=click.IntRange(min=1), help="only this seller's chats")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="only chats in this status (repeatable), as the API's status=")
@click.option("--search", "words", help="words in the buyer's name or a message, as the API's q= "
                                        "(best matches first)")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="at most this many")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array (the API's chat objects)")
@one_line_errors
def chats_list(awaiting: bool, seller_id: int | None, statuses: tuple[str, ...], words: str | None, limit: int,
               as_json: bool):
    filters = ChatFilter(seller_id=seller_id, awaiting_reply=True if awaiting else None,
                         statuses=statuses or None, q=words)
    order = "queue" if awaiting and not filters.q else "activity"
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


def _change(chat_id: int, **fields) -> None:
    """Change the chat as the API does; print its status and assignee."""
    with runtime.get().db.session(write_lock=True) as session:
        if "assignee" in fields:
            who = fields.pop("assignee")
            fields["assignee_id"] = None if who is None else find_operator(session, who).id
        change_chat(session, chat_id, CLI, **fields)
    with runtime.get().db.session() as session:
        chat = chat_detail(session, chat_id, scope=EVERYTHING, limit=1)
    status = chat["status"] + (f" until {chat['snoozed_until']}" if chat["snoozed_until"] else "")
    assignee = chat["assignee"]["name"] if chat["assignee"] else "unassigned"
    click.echo(f"chat {chat_id}: {status}, {assignee}")


@chats_group.command("resolve", help="Mark a chat resolved (a new buyer message opens it again).")
@click.argument("chat_id", type=click.IntRange(min=1))
@one_line_errors
def chats_resolve(chat_id: int):
    _change(chat_id, status=ChatStatus.RESOLVED)


@chats_group.command("reopen", help="Open a resolved or snoozed chat again.")
@click.argument("chat_id", type=click.IntRange(min=1))
@one_line_errors
def chats_reopen(chat_id: int):
    _change(chat_id, status=ChatStatus.OPEN)


@chats_group.command("snooze", help="Snooze a chat until UNTIL (ISO 8601 with its offset, e.g. "
                                    "2026-12-09T09:00:00+03:00); it opens again by itself then.")
@click.argument("chat_id", type=click.IntRange(min=1))
@click.argument("until")
@one_line_errors
def chats_snooze(chat_id: int, until: str):
    try:
        moment = datetime.fromisoformat(until)
    except ValueError:
        raise BadInput("UNTIL", "must be an ISO 8601 date-time with its offset, e.g. 2026-12-09T09:00:00+03:00") \
            from None
    _change(chat_id, status=ChatStatus.SNOOZED, snoozed_until=moment)


@chats_group.command("assign", help="Assign a chat to an operator (e-mail or id), or to nobody with --none.")
@click.argument("chat_id", type=click.IntRange(min=1))
@click.argument("operator", required=False)
@click.option("--none", "nobody", is_flag=True, help="unassign the chat")
@one_line_errors
def chats_assign(chat_id: int, operator: str | None, nobody: bool):
    if nobody == (operator is not None):
        raise BadInput("OPERATOR", "give an operator's e-mail or id, or --none (not both)")
    _change(chat_id, assignee=None if nobody else operator)


@chats_group.command("note", help="Leave an internal note in a chat (the text from standard input): seen by "
                                  "operators only, never sent to the buyer or the AI.")
@click.argument("chat_id", type=click.IntRange(min=1))
@one_line_errors
def chats_note(chat_id: int):
    text = sys.stdin.read()
    with runtime.get().db.session() as session:
        note_id = add_note(session, chat_id, text, CLI).id
    click.echo(f"chat {chat_id}: note {note_id} added")
