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
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import ColumnElement, Integer, all_, any_, bindparam, column, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY

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


@dataclass(frozen=True)
class Tiers:
    """Conditions on chats: the buyer's name matches (tier 0), a message matches (tier 1),
    and "not a tier-0 chat" for tier 1. None: the tier is known to be empty, not queried."""

    name: ColumnElement | None
    message: ColumnElement | None
    not_name: ColumnElement | None


def tiers(connection, q: str) -> Tiers:
    found = words(q)
    if not found:
        return Tiers(None, None, None)  # punctuation only: nothing to find
    if connection.dialect.name == "postgresql":
        return _postgresql(connection, " ".join(found))
    fts = _fts5_query(found)
    names = text(f"SELECT rowid FROM {NAMES_FTS} WHERE {NAMES_FTS} MATCH :q_name").bindparams(q_name=fts)
    texts = text(f"SELECT rowid FROM {MESSAGES_FTS} WHERE {MESSAGES_FTS} MATCH :q_text").bindparams(q_text=fts)
    name = Chat.id.in_(names.columns(column("rowid", Integer)))
    message = Chat.id.in_(select(Message.chat_id).where(Message.id.in_(texts.columns(column("rowid", Integer)))))
    return Tiers(name, message, ~name)


# A word rarer than this many rows is looked up first and its chats listed by id; a commoner
# one is checked chat by chat along the activity index, where matches come soon. PostgreSQL's
# planner cannot tell the two apart alone: it guesses 0.5% of the rows for any word missing from
# its statistics, and walked 100,000 chats (350 ms) for an order number that 10 messages hold.
# Words its statistics know to be common (past COMMON expected rows) skip the look-up: reading
# 2,000 of them took 11 ms where the walk takes 1 ms.
PROBE = 2000
COMMON = 10 * PROBE
_EXPECTED = (f"EXPLAIN (FORMAT JSON) SELECT 1 FROM messages WHERE {MESSAGE_VECTOR} @@ "
             f"plainto_tsquery('{CONFIG}', %s)")


@contextmanager
def planned_for_these_words(connection) -> Iterator[None]:
    """psycopg prepares a statement run 5 times, and PostgreSQL may then plan it once for any
    words (a generic plan): one that suited a rare word took 50 ms for a word every message
    holds. Search statements are not prepared, so each is planned for its words (psycopg's
    public prepare_threshold, put back after them: the connection is pooled)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    driver = connection.connection.driver_connection
    before = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        yield
    finally:
        driver.prepare_threshold = before


def _postgresql(connection, plain: str) -> Tiers:
    query = func.plainto_tsquery(literal_column(f"'{CONFIG}'"), plain)
    name = literal_column(f"chats.{NAME_VECTOR}").bool_op("@@")(query)
    in_text = literal_column(f"messages.{MESSAGE_VECTOR}").bool_op("@@")(query)

    def first(matching):  # up to PROBE + 1 matching rows' chat ids, as one array
        return select(func.array_agg(literal_column("chat"))).select_from(
            matching.limit(PROBE + 1).subquery()).scalar_subquery()

    # The planner's estimate (planning only, no rows read), then both look-ups in one round trip.
    common = connection.exec_driver_sql(_EXPECTED, (plain,)).scalar()[0]["Plan"]["Plan Rows"] >= COMMON
    probes = [first(select(Chat.id.label("chat")).where(name))]
    if not common:
        probes.append(first(select(Message.chat_id.label("chat")).where(in_text)))
    found = connection.execute(select(*probes)).one()
    named, written = found[0] or [], (found[1] or []) if not common else None
    if len(named) > PROBE:  # common: checked along the activity index
        name_tier, not_name = name, ~name
    else:
        name_tier, not_name = _among(named), Chat.id != all_(_ids(named)) if named else None
    if written is None or len(written) > PROBE:
        message_tier = Chat.id.in_(select(Message.chat_id).where(in_text))
    else:
        message_tier = _among(written)
    return Tiers(name_tier, message_tier, not_name)


def _among(chat_ids: list[int]) -> ColumnElement | None:
    """Chats of these ids, as one array parameter (not a bound parameter per id); None: no chats."""
    if not chat_ids:
        return None
    return Chat.id == any_(_ids(chat_ids))


def _ids(chat_ids: list[int]):
    return bindparam(None, sorted(set(chat_ids)), type_=ARRAY(Integer))
