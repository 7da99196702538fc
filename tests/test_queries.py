"""The read side shared by the API and the inbox: orders, filters, keyset pages, chat detail."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chatcenter.chat_store import record_message, store_analysis
from chatcenter.models import Analysis, Chat, Message
from chatcenter.errors import BadInput
from chatcenter.queries import ChatFilter, chat_detail, list_chats, public_reason
from chatcenter.scope import EVERYTHING
from tests.helpers import add_seller, resources

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def make_chat(app, seller_id, n, *, buyer_at=None, seller_at=None, urgency=None, name="Анна Петрова"):
    """A chat whose newest message is the buyer's (awaiting) or the seller's, at given minutes."""
    with resources(app).db.session() as session:
        chat = Chat(seller_id=seller_id, wb_chat_id=f"wb-{seller_id}-{n}", client_name=name,
                    last_message_at=T0, awaiting_reply=False, analysis_due=False, priority=1,
                    good_card={"nmID": 1000 + n, "price": 990, "priceCurrency": "RUB", "size": "M", "rid": "x"})
        session.add(chat)
        session.flush()
        for sender, minute in sorted((("client", buyer_at), ("seller", seller_at)), key=lambda p: p[1] or -1):
            if minute is None:
                continue
            message = Message(chat_id=chat.id, wb_event_id=f"e-{n}-{sender}", sender=sender,
                              text=f"{sender} {n}", sent_at=T0 + timedelta(minutes=minute))
            session.add(message)
            session.flush()
            record_message(chat, message)
        if urgency:
            store_analysis(session, chat, Analysis(
                chat_id=chat.id, last_message_id=chat.last_message_id, sentiment="neutral", category="question",
                urgency=urgency, summary="s", suggested_reply="r", model="m", prompt_tokens=1, completion_tokens=1))
        return chat.id


def all_pages(app, filters=ChatFilter(), order="activity", limit=2):
    seen, cursor = [], None
    with resources(app).db.session() as session:
        while True:
            page = list_chats(session, filters, scope=EVERYTHING, order=order, limit=limit, cursor=cursor)
            seen += [c["id"] for c in page.chats]
            if page.next_cursor is None:
                return seen
            cursor = page.next_cursor


def test_activity_order_is_newest_first_across_pages(app):
    seller = add_seller(app)
    ids = [make_chat(app, seller, n, buyer_at=n) for n in range(5)]
    assert all_pages(app) == list(reversed(ids))


def test_queue_order_puts_awaiting_first_by_urgency_then_longest_wait(app):
    seller = add_seller(app)
    answered = make_chat(app, seller, 1, buyer_at=1, seller_at=50)
    low_old = make_chat(app, seller, 2, buyer_at=2, urgency="low")
    high_new = make_chat(app, seller, 3, buyer_at=30, urgency="high")
    high_old = make_chat(app, seller, 4, buyer_at=10, urgency="high")
    unread = make_chat(app, seller, 5, buyer_at=5)  # not analysed yet: counts as medium
    medium = make_chat(app, seller, 6, buyer_at=3, urgency="medium")
    answered_later = make_chat(app, seller, 7, buyer_at=8, seller_at=60)
    expected = [high_old, high_new, medium, unread, low_old, answered_later, answered]
    for limit in (1, 2, 3, 100):
        assert all_pages(app, order="queue", limit=limit) == expected


def all_pages_back(app, filters=ChatFilter(), order="activity", limit=2) -> list[list[int]]:
    """Forward to the last page, then back with each page's prev_cursor: the pages met."""
    forward, cursor = [], None
    with resources(app).db.session() as session:
        while True:
            page = list_chats(session, filters, scope=EVERYTHING, order=order, limit=limit, cursor=cursor)
            forward.append(page)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        back = [forward[-1]]
        while back[-1].prev_cursor is not None:
            back.append(list_chats(session, filters, scope=EVERYTHING, order=order, limit=limit, cursor=back[-1].prev_cursor))
    return [[c["id"] for c in page.chats] for page in forward], [[c["id"] for c in page.chats] for page in back]


@pytest.mark.parametrize("order, filters", [("activity", ChatFilter()), ("queue", ChatFilter()),
                                            ("queue", ChatFilter(awaiting_reply=True)),
                                            ("queue", ChatFilter(awaiting_reply=False))])
def test_previous_pages_walk_back_the_same_pages_in_both_orders(app, order, filters):
    seller = add_seller(app)
    for n in range(9):  # awaiting with each urgency, and answered ones: both parts of the queue
        make_chat(app, seller, n, buyer_at=n, seller_at=n + 1 if n % 3 == 0 else None,
                  urgency=("high", "low", None)[n % 3] if n % 3 else None)
    forward, back = all_pages_back(app, filters, order, limit=2)
    assert len(forward) > 1
    assert back == list(reversed(forward))


def test_a_previous_page_that_reaches_the_start_is_the_whole_first_page(app):
    seller = add_seller(app)
    ids = [make_chat(app, seller, n, buyer_at=n) for n in range(5)]
    awaiting = ChatFilter(awaiting_reply=True)
    with resources(app).db.session() as session:
        second = list_chats(session, awaiting, scope=EVERYTHING, limit=2,
                            cursor=list_chats(session, awaiting, scope=EVERYTHING, limit=2).next_cursor)
        assert [c["id"] for c in second.chats] == [ids[2], ids[1]]
        session.get(Chat, ids[4]).awaiting_reply = False  # answered meanwhile: one chat is left before
    with resources(app).db.session() as session:
        first = list_chats(session, awaiting, scope=EVERYTHING, limit=2, cursor=second.prev_cursor)
    assert [c["id"] for c in first.chats] == [ids[3], ids[2]] and first.prev_cursor is None


def test_pages_stay_stable_while_new_chats_arrive(app):
    seller = add_seller(app)
    ids = [make_chat(app, seller, n, buyer_at=n) for n in range(6)]
    seen, cursor = [], None
    with resources(app).db.session() as session:
        page = list_chats(session, ChatFilter(), scope=EVERYTHING, limit=2)
    seen += [c["id"] for c in page.chats]
    for n in range(10, 13):  # three new chats between the pages, newer than all
        make_chat(app, seller, n, buyer_at=100 + n)
        with resources(app).db.session() as session:
            page = list_chats(session, ChatFilter(), scope=EVERYTHING, limit=2, cursor=page.next_cursor)
        seen += [c["id"] for c in page.chats]
        if page.next_cursor is None:
            break
    assert seen == list(reversed(ids))  # none skipped, none repeated


def test_filters(app):
    one, two = add_seller(app, "one"), add_seller(app, "two")
    a = make_chat(app, one, 1, buyer_at=1, urgency="high")
    b = make_chat(app, two, 2, buyer_at=2, urgency="low")
    c = make_chat(app, one, 3, buyer_at=3, seller_at=4)
    assert all_pages(app, ChatFilter(seller_id=one)) == [c, a]
    assert all_pages(app, ChatFilter(awaiting_reply=True)) == [b, a]
    assert all_pages(app, ChatFilter(awaiting_reply=False), order="queue") == [c]
    assert all_pages(app, ChatFilter(urgency="high")) == [a]
    assert all_pages(app, ChatFilter(awaiting_reply=True), order="queue") == [a, b]


def test_a_chat_in_a_list_shows_first_name_product_preview_and_analysis(app):
    seller = add_seller(app)
    chat_id = make_chat(app, seller, 1, buyer_at=1, urgency="high", name="Анна Сергеевна Петрова")
    with resources(app).db.session() as session:
        [chat] = list_chats(session, ChatFilter(), scope=EVERYTHING).chats
    assert chat["buyer_first_name"] == "Анна"
    assert chat["product"] == {"nmID": 1001, "price": 990, "priceCurrency": "RUB", "size": "M"}
    assert chat["last_message"]["text"] == "client 1" and chat["awaiting_reply"] is True
    assert chat["analysis"]["urgency"] == "high" and chat["id"] == chat_id
    assert "Петрова" not in str(chat)


@pytest.mark.parametrize("cursor", ["garbage", "eyJvIjoiYWN0aXZpdHkifQ", "e30", "!!"])
def test_bad_cursors_are_refused_by_name(app, cursor):
    with resources(app).db.session() as session, pytest.raises(BadInput, match="^cursor: "):
        list_chats(session, ChatFilter(), scope=EVERYTHING, cursor=cursor)


def test_a_cursor_of_other_filters_is_refused(app):
    seller = add_seller(app)
    for n in range(3):
        make_chat(app, seller, n, buyer_at=n)
    with resources(app).db.session() as session:
        cursor = list_chats(session, ChatFilter(), scope=EVERYTHING, limit=1).next_cursor
        with pytest.raises(BadInput, match="another order or other filters"):
            list_chats(session, ChatFilter(seller_id=seller), scope=EVERYTHING, limit=1, cursor=cursor)
        with pytest.raises(BadInput, match="another order"):
            list_chats(session, ChatFilter(), scope=EVERYTHING, order="queue", limit=1, cursor=cursor)


@pytest.mark.parametrize("kwargs, field", [({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                                           ({"order": "random"}, "order")])
def test_bad_limits_and_orders(app, kwargs, field):
    with resources(app).db.session() as session, pytest.raises(BadInput) as info:
        list_chats(session, ChatFilter(), scope=EVERYTHING, **kwargs)
    assert info.value.field == field


def test_bad_filter_values_name_the_field():
    with pytest.raises(BadInput, match="^urgency: must be one of low, medium, high"):
        ChatFilter(urgency="urgent")


def test_chat_detail_pages_messages_back_in_time_oldest_first(app):
    seller = add_seller(app)
    chat_id = make_chat(app, seller, 1)
    with resources(app).db.session() as session:
        chat = session.get(Chat, chat_id)
        for minute in range(5):
            message = Message(chat_id=chat_id, wb_event_id=f"m{minute}", sender="client", text=f"m{minute}",
                              sent_at=T0 + timedelta(minutes=minute))
            session.add(message)
            session.flush()
            record_message(chat, message)
    with resources(app).db.session() as session:
        first = chat_detail(session, chat_id, scope=EVERYTHING, limit=2)
        second = chat_detail(session, chat_id, scope=EVERYTHING, limit=2, before=first["messages_before"])
        third = chat_detail(session, chat_id, scope=EVERYTHING, limit=2, before=second["messages_before"])
        assert chat_detail(session, 999, scope=EVERYTHING) is None
    assert [m["text"] for m in first["messages"]] == ["m3", "m4"]
    assert [m["text"] for m in second["messages"]] == ["m1", "m2"]
    assert [m["text"] for m in third["messages"]] == ["m0"] and third["messages_before"] is None
    assert first["product"]["rid"] == "x"  # the whole card on the chat's own page


def test_public_reason_shows_our_messages_and_hides_others():
    ours = "Traceback...\nchatcenter.clients.wb.WBAuthError: WB API rejected the token (401): unauthorized"
    theirs = "Traceback...\nsqlalchemy.exc.IntegrityError: (psycopg.errors.UniqueViolation) ... 'Анна'"
    assert public_reason(ours) == "WB API rejected the token (401): unauthorized"
    assert public_reason(theirs) == "internal error (IntegrityError); see the worker log"
    assert public_reason(None) == "no reason recorded"
