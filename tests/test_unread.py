"""Unread chats per operator, through the pages (Flask's test client) against real Redis and
SQLite/PostgreSQL: a chat with buyer messages newer than what an operator saw when they
last opened it is marked, with the count of those messages, and the page title counts such
chats; opening the chat (or its live thread showing a new message) clears it for that
operator only. The browser test (test_keys_browser.py) checks the same in Chromium."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from chatcenter.chat_store import record_message
from chatcenter.models import Chat, Message
from chatcenter.scope import EVERYTHING
from chatcenter.unread import UNREAD_WINDOW, count_unread_chats
from jobs.sync import sync_seller_chats
from tests.helpers import add_seller, resources, seed_wb
from tests.inbox_support import add_operator, sign_in
from tests.test_queries import T0, make_chat

ANNA, BORIS = "anna@shop.example", "boris@shop.example"


def add_message(app, chat_id: int, sender: str, minute: int) -> int:
    with resources(app).db.session() as session:
        chat = session.get(Chat, chat_id)
        message = Message(chat_id=chat_id, wb_event_id=f"late-{chat_id}-{minute}-{sender}", sender=sender,
                          text=f"{sender} at {minute}", sent_at=T0 + timedelta(minutes=minute))
        session.add(message)
        session.flush()
        record_message(chat, message)
        return message.id


def unread_rows(html: str) -> dict[int, int]:
    """chat id -> the unread count shown on its row."""
    found = {}
    for row in re.findall(r'<li class="chat-row[^"]*is-unread[^"]*" data-key="(\d+)">(.*?)</li>', html, re.S):
        count = re.search(r'<span class="unread-count"[^>]*><span aria-hidden="true">([^<]+)</span>', row[1])
        found[int(row[0])] = int(count.group(1))
    return found


def title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def two_operators(app, client):
    add_operator(app, ANNA)
    add_operator(app, BORIS)
    anna, boris = client, app.test_client()
    assert sign_in(anna, ANNA).status_code == 302 and sign_in(boris, BORIS).status_code == 302
    return anna, boris


ALL = "/?view=all"


def test_unread_chats_are_marked_counted_and_cleared_per_operator(app, client):
    seller = add_seller(app)
    old = make_chat(app, seller, 0, buyer_at=0)  # before either operator first opened the inbox
    anna, boris = two_operators(app, client)
    for operator in (anna, boris):  # the first look: what exists now counts as read
        page = operator.get("/").text
        assert unread_rows(page) == {} and title(page) == "Inbox · Chat center"

    first = make_chat(app, seller, 1, buyer_at=10, urgency="high")
    add_message(app, first, "client", 11)
    second = make_chat(app, seller, 2, buyer_at=5)
    answered = make_chat(app, seller, 3, buyer_at=3, seller_at=4)  # the buyer's message is still unseen
    add_message(app, old, "seller", 20)  # a seller's message alone makes nothing unread

    page = anna.get(ALL).text  # the answered chat is not in "Needs reply", the default view
    assert unread_rows(page) == {first: 2, second: 1, answered: 1}
    assert title(page) == "(3) Inbox · Chat center" and "3 unread" in page
    assert 'data-title="(3) Inbox · Chat center"' in anna.get("/live/inbox").text

    assert anna.get(f"/chats/{first}").status_code == 200  # Anna opens the first chat
    page = anna.get(ALL).text
    assert unread_rows(page) == {second: 1, answered: 1} and title(page) == "(2) Inbox · Chat center"
    assert unread_rows(boris.get(ALL).text) == {first: 2, second: 1, answered: 1}  # not Boris's

    add_message(app, first, "client", 30)  # the buyer writes again
    add_message(app, first, "client", 8)  # and a message WB delivers late, older than the last
    assert unread_rows(anna.get(ALL).text)[first] == 2

    # With the chat open, its live thread shows the new messages: read.
    assert anna.get(f"/live/chats/{first}/thread").status_code == 200
    assert first not in unread_rows(anna.get(ALL).text)
    # Paging back through old messages shows none of the new ones: still unread for Boris.
    oldest = add_message(app, first, "client", 31)
    assert boris.get(f"/chats/{first}?before={oldest}").status_code == 200
    assert first in unread_rows(boris.get(ALL).text)


def test_the_title_counts_unread_chats_within_a_bounded_window(app, client):
    seller = add_seller(app)
    operator = add_operator(app, ANNA)
    with resources(app).db.session() as session:
        session.add_all(Chat(seller_id=seller, wb_chat_id=f"w-{n}", awaiting_reply=True, analysis_due=False,
                             priority=1, last_message_at=T0, waiting_since=T0, last_buyer_message_id=n + 1)
                        for n in range(UNREAD_WINDOW + 5))
    with resources(app).db.session() as session:
        unread = count_unread_chats(session, operator, 0, scope=EVERYTHING)
    assert (unread.count, unread.more) == (UNREAD_WINDOW, True)
    assert sign_in(client, ANNA).status_code == 302
    assert title(client.get("/").text) == "(1000+) Inbox · Chat center"  # no message is older than the floor


def test_a_sync_keeps_each_chats_newest_buyer_message(job_app, wb_stub):
    seed_wb(wb_stub, chats=2, messages_per_chat=3)  # buyer, seller, buyer
    seller_id = add_seller(job_app)
    sync_seller_chats(seller_id)
    with resources(job_app).db.session() as session:
        for chat in session.scalars(select(Chat)):
            newest = session.scalar(select(Message.id).where(Message.chat_id == chat.id, Message.sender == "client")
                                    .order_by(Message.id.desc()).limit(1))
            assert chat.last_buyer_message_id == newest
