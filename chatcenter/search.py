"""Finding chats by words (the `q` of the chat list): in the buyer's name or a message's text.

The user's text is taken as plain words (letters and digits); quotes, `*`, `:`, `-`, `OR`
and the like are never passed on as query syntax. A chat matches when its buyer's name holds
every word, or one of its messages does. On PostgreSQL words match in any form the
`russian` configuration knows ("коробка" finds "коробку", "boxes" finds "box"; its stop
words such as "где" match nothing); on SQLite case and English forms only.

Ranking is by tier, then recency: chats whose buyer's name matches come first, then those
with a matching message, each tier newest activity first. chatcenter.queries pages through
the two tiers with its keyset cursor. A score such as ts_rank would have to be computed for
every match before the first page (a common word matches a third of a million messages),
which the 50 ms target of a search at 1M messages does not allow.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import ColumnElement, Integer, column, false, func, literal_column, select, text, true

from chatcenter.models import Chat, Message
from chatcenter.search_index import CONFIG, MESSAGE_VECTOR, MESSAGES_FTS, NAME_VECTOR, NAMES_FTS

SEARCH_MAX = 200  # characters of q
WORDS_MAX = 16  # words of q used: more narrows nothing a person would type
_WORD = re.compile(r"\w+")


def words(q: str) -> list[str]:
    """The words of the user's text, in order, each once."""
    return list(dict.fromkeys(w.casefold() for w in _WORD.findall(q)))[:WORDS_MAX]


def _fts5_query(found: list[str]) -> str:
    """FTS5's query for all of these words: each a quoted string, which FTS5 reads as text."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in found)


def conditions(connection, q: str) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    """(the buyer's name matches, a message matches, the name does not match) as conditions
    on chats, for this connection's database."""
    found = words(q)
    if not found:
        return false(), false(), true()  # punctuation only: nothing to find
    if connection.dialect.name == "postgresql":
        return _postgresql(connection, " ".join(found))
    fts = _fts5_query(found)
    names = text(f"SELECT rowid FROM {NAMES_FTS} WHERE {NAMES_FTS} MATCH :q_name").bindparams(q_name=fts)
    texts = text(f"SELECT rowid FROM {MESSAGES_FTS} WHERE {MESSAGES_FTS} MATCH :q_text").bindparams(q_text=fts)
    name = Chat.id.in_(names.columns(column("rowid", Integer)))
    return (name, Chat.id.in_(select(Message.chat_id).where(Message.id.in_(texts.columns(column("rowid", Integer))))),
            ~name)


# A word rarer than this many rows is looked up first and its chats listed by id; a commoner
# one is checked chat by chat along the activity index, where matches come soon. PostgreSQL's
# planner cannot tell the two apart: it guesses 0.5% of the rows for any word missing from its
# statistics, and walked 100,000 chats (350 ms) for an order number that 10 messages hold.
PROBE = 2000


@contextmanager
def planned_for_these_words(connection) -> Iterator[None]:
    """psycopg prepares a statement run 5 times, and PostgreSQL may then plan it once for any
    words (a generic plan): one that suited a rare word took 50 ms for a word every message
    holds. Search statements are planned for their words each time; the setting is put back
    after them (the connection is pooled; the inbox reads in autocommit, so no SET LOCAL)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.exec_driver_sql("SET plan_cache_mode = force_custom_plan")
    try:
        yield
    finally:
        connection.exec_driver_sql("RESET plan_cache_mode")


def _postgresql(connection, plain: str) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    query = func.plainto_tsquery(literal_column(f"'{CONFIG}'"), plain)
    name = literal_column(f"chats.{NAME_VECTOR}").bool_op("@@")(query)
    in_text = literal_column(f"messages.{MESSAGE_VECTOR}").bool_op("@@")(query)
    named = _rare(connection, select(Chat.id).where(name))
    written = _rare(connection, select(Message.chat_id).where(in_text))
    return (Chat.id.in_(named) if named is not None else name,
            Chat.id.in_(written) if written is not None else Chat.id.in_(select(Message.chat_id).where(in_text)),
            ~name)


def _rare(connection, matching) -> list[int] | None:
    """The chat ids of all PROBE-or-fewer matching rows; None when there are more."""
    found = connection.execute(matching.limit(PROBE + 1)).scalars().all()
    return None if len(found) > PROBE else sorted(set(found))
