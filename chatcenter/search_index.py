"""The full-text index that search (chatcenter/search.py) reads: buyers' names and message text.

It lives outside the models because each database builds it its own way:
- PostgreSQL: a stored generated tsvector column (the `russian` configuration: Russian word
  forms, and English ones through its English stemmer) on messages and on chats' buyer
  names, each with a GIN index. Kept current by PostgreSQL itself, whatever writes the row.
- SQLite: two external-content FTS5 tables (porter + unicode61: case and English word
  forms; no Russian stemmer exists for FTS5), kept in step with their tables by triggers,
  so the sync's driver-level inserts and the reply path's ORM inserts are both covered.

The same statements build it in migration 0012 (filling it from the rows already there)
and in `Base.metadata.create_all` (the tests' schema: models.py calls `build`).
"""
from __future__ import annotations

CONFIG = "russian"
MESSAGE_VECTOR, NAME_VECTOR = "search_vector", "search_name"  # PostgreSQL's generated columns
MESSAGES_FTS, NAMES_FTS = "messages_fts", "chat_names_fts"  # SQLite's FTS5 tables
_TOKENIZER = "porter unicode61 remove_diacritics 2"

POSTGRESQL = [
    f"ALTER TABLE messages ADD COLUMN {MESSAGE_VECTOR} tsvector "
    f"GENERATED ALWAYS AS (to_tsvector('{CONFIG}', coalesce(text, ''))) STORED",
    f"CREATE INDEX ix_messages_search ON messages USING gin ({MESSAGE_VECTOR})",
    f"ALTER TABLE chats ADD COLUMN {NAME_VECTOR} tsvector "
    f"GENERATED ALWAYS AS (to_tsvector('{CONFIG}', coalesce(client_name, ''))) STORED",
    f"CREATE INDEX ix_chats_name_search ON chats USING gin ({NAME_VECTOR})",
]


def _fts5(table: str, source: str, column: str) -> list[str]:
    """An external-content FTS5 table over source.column and the triggers keeping it in step
    (FTS5's own recipe: a changed row is deleted with its old value, then added again)."""
    remove = f"INSERT INTO {table}({table}, rowid, {column}) VALUES ('delete', old.id, old.{column})"
    add = f"INSERT INTO {table}(rowid, {column}) VALUES (new.id, new.{column})"
    return [
        f"CREATE VIRTUAL TABLE {table} USING fts5({column}, content='{source}', content_rowid='id', "
        f"tokenize='{_TOKENIZER}')",
        f"CREATE TRIGGER {table}_insert AFTER INSERT ON {source} BEGIN {add}; END",
        f"CREATE TRIGGER {table}_delete AFTER DELETE ON {source} BEGIN {remove}; END",
        f"CREATE TRIGGER {table}_update AFTER UPDATE OF {column} ON {source} BEGIN {remove}; {add}; END",
        f"INSERT INTO {table}({table}) VALUES ('rebuild')",  # the rows already there
    ]


SQLITE = [*_fts5(MESSAGES_FTS, "messages", "text"), *_fts5(NAMES_FTS, "chats", "client_name")]
STATEMENTS = {"postgresql": POSTGRESQL, "sqlite": SQLITE}


def build(connection) -> None:
    """Create the index on this connection's database and fill it from the stored rows."""
    for statement in STATEMENTS[connection.dialect.name]:
        connection.exec_driver_sql(statement)


def is_search_object(name: str | None) -> bool:
    """Alembic's comparison of models and schema leaves the index alone (not in the models)."""
    return bool(name) and (name in (MESSAGE_VECTOR, NAME_VECTOR, "ix_messages_search", "ix_chats_name_search")
                           or name.startswith((MESSAGES_FTS, NAMES_FTS)))


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not is_search_object(name)
