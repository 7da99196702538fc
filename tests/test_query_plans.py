"""The inbox and API queries use indexes: no full scan of chats or messages, no sort of them.

Run on a small database, where a scan or a sort would be the cheapest plan, so the planner is
told to avoid them (PostgreSQL: enable_seqscan, enable_bitmapscan and enable_sort off); it
still chooses one when no index fits the filter and the order, which is what this catches.
bench/api.py measures the same queries on 100,000 chats and 1,000,000 messages.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import event

from chatcenter.queries import ChatFilter, chat_detail, count_chats, list_chats
from chatcenter.scope import EVERYTHING, Scope
from chatcenter.unread import count_unread_chats, unread_counts
from tests.helpers import add_seller, resources
from tests.test_queries import make_chat


def _statements(engine, run) -> list[tuple[str, object]]:
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen


def _problems(conn, statement: str, parameters) -> list[str]:
    """Full scans or sorts of chats/messages in the plan of `statement`."""
    if conn.dialect.name == "postgresql":
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            conn.exec_driver_sql(f"SET {setting} = off")
        [(plan,)] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).fetchall()
        plan = plan if isinstance(plan, list) else json.loads(plan)
        found, todo = [], [plan[0]["Plan"]]
        while todo:
            node = todo.pop()
            todo += node.get("Plans", [])
            relation = node.get("Relation Name", "")
            if node["Node Type"] == "Seq Scan" and relation in ("chats", "messages"):
                found.append(f"sequential scan of {relation}")
            if node["Node Type"] in ("Sort", "Incremental Sort"):
                found.append(f"sort on {node.get('Sort Key')}")
        return found
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
    details = [row[-1] for row in rows]
    return [d for d in details if (d.startswith("SCAN chats") or d.startswith("SCAN messages")) and "INDEX" not in d
            or "TEMP B-TREE" in d]


def chats(filters: ChatFilter = ChatFilter(), scope: Scope = EVERYTHING, **kwargs):
    return lambda s, seller: list_chats(s, filters, scope=scope, **{"limit": 2, **kwargs})


QUERIES = {
    "chats, newest activity": chats(),
    "chats of one seller": lambda s, seller: list_chats(s, ChatFilter(seller_id=seller), scope=EVERYTHING, limit=2),
    "chats awaiting a reply": chats(ChatFilter(awaiting_reply=True)),
    "chats by sentiment": chats(ChatFilter(sentiment="negative")),
    "chats by category": chats(ChatFilter(category="delivery")),
    "chats by urgency": chats(ChatFilter(urgency="high")),
    "inbox order, both parts": chats(order="queue", limit=50),
    "chat with its messages": lambda s, seller: chat_detail(s, 1, scope=EVERYTHING, limit=2),
    # An agent or a key limited to sellers: the same indexes, with seller_id IN (...) on top.
    "an agent's chats, newest activity": lambda s, seller: list_chats(s, ChatFilter(), scope=Scope(frozenset({seller})),
                                                                      limit=2),
    "an agent of two sellers, inbox order": lambda s, seller: list_chats(
        s, ChatFilter(), scope=Scope(frozenset({seller, seller + 1})), order="queue", limit=50),
    "an agent's chats awaiting a reply": lambda s, seller: list_chats(
        s, ChatFilter(awaiting_reply=True), scope=Scope(frozenset({seller, seller + 1})), limit=2),
    "an agent's chat": lambda s, seller: chat_detail(s, 1, scope=Scope(frozenset({seller})), limit=2),
    "inbox, previous page": lambda s, seller: list_chats(
        s, ChatFilter(), scope=EVERYTHING, order="queue", limit=1,
        cursor=list_chats(s, ChatFilter(), scope=EVERYTHING, order="queue", limit=1,
                          cursor=list_chats(s, ChatFilter(), scope=EVERYTHING, order="queue",
                                            limit=4).next_cursor).prev_cursor),
    "unread messages of a page's chats": lambda s, seller: unread_counts(s, 1, 0, [1, 2, 3, 4, 5, 6]),
    "unread chats, counted": lambda s, seller: count_unread_chats(s, 1, 0, scope=EVERYTHING),
    # The inbox's views (chatcenter/web/inbox/views.py).
    "view needs reply": chats(ChatFilter(statuses=("open",), awaiting_reply=True), order="queue", limit=50),
    "view mine": chats(ChatFilter(statuses=("open",), assignee_id=1), order="queue", limit=50),
    "view unassigned": chats(ChatFilter(statuses=("open",), assignee_id="none"), order="queue", limit=50),
    "view snoozed": chats(ChatFilter(statuses=("snoozed",)), limit=50),
    "view resolved": chats(ChatFilter(statuses=("resolved",)), limit=50),
    "needs reply counted": lambda s, seller: count_chats(s, ChatFilter(statuses=("open",), awaiting_reply=True),
                                                         scope=EVERYTHING, up_to=999),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_uses_indexes(app, name):
    seller = add_seller(app)
    for n in range(6):
        make_chat(app, seller, n, buyer_at=n, seller_at=n + 1 if n % 2 else None, urgency="high" if n == 3 else None)
    db = resources(app).db

    def run():
        with db.session() as session:
            QUERIES[name](session, seller)

    statements = _statements(db.engine, run)
    assert statements, "the query ran no SELECT: nothing was checked"
    with db.engine.connect() as conn:
        problems = {statement: _problems(conn, statement, parameters) for statement, parameters in statements}
    assert not any(problems.values()), json.dumps({k: v for k, v in problems.items() if v}, indent=1)
