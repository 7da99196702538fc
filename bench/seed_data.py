"""Fill a PostgreSQL database with a large, consistent chat center for benchmarks.

    .venv/bin/python bench/seed_data.py DATABASE_URL [--chats 100000] [--messages-per-chat 10]

50 sellers; each chat has its messages alternating buyer and seller, a third of the chats end
with the buyer's message (awaiting a reply), two thirds of the chats have an analysis. The
rows are generated inside PostgreSQL (generate_series), so 1,000,000 messages take seconds.
The schema is created (or upgraded) first; existing rows are removed.
"""
from __future__ import annotations

import argparse
import importlib
import time

from harness import ROOT  # noqa: F401  (puts the project on sys.path)

from chatcenter import migrate  # noqa: E402
from chatcenter.db import Database  # noqa: E402

SELLERS = 50


def _migration(name: str):
    return importlib.import_module(f"chatcenter.migrations.versions.{name}")



STEPS = [
    ("sellers", """
        INSERT INTO sellers (id, name, wb_token, active, sync_state, set_aside_events, created_at)
        SELECT s, 'Seller ' || s, 'bench-token-' || s, true, 'ok', 0, now()
        FROM generate_series(1, :sellers) s"""),
    ("chats", """
        INSERT INTO chats (id, seller_id, wb_chat_id, reply_sign, client_name, good_card, last_message_at,
                           awaiting_reply, analysis_due, priority, created_at)
        SELECT c, 1 + c % :sellers, 'wb-chat-' || c, 'sign-' || c, 'Покупатель ' || c,
               json_build_object('nmID', 100000 + c % 5000, 'price', 500 + c % 9000,
                                 'priceCurrency', 'RUB', 'size', 'M'),
               now() - make_interval(secs => c * 37), false, false, 1, now() - make_interval(days => 30)
        FROM generate_series(1, :chats) c"""),
    # Message m of chat c: the newest is the buyer's in a third of the chats.
    ("messages", """
        INSERT INTO messages (id, chat_id, wb_event_id, sender, text, sent_at)
        SELECT (c - 1) * :per_chat + m, c, 'ev-' || c || '-' || m,
               CASE WHEN (:per_chat - m + (c % 3 = 0)::int) % 2 = 0 THEN 'seller' ELSE 'client' END,
               'Сообщение ' || m || ' в чате ' || c || ': где мой заказ, когда приедет курьер?',
               now() - make_interval(secs => c * 37 + (:per_chat - m) * 60)
        FROM generate_series(1, :chats) c, generate_series(1, :per_chat) m"""),
    ("analyses", """
        INSERT INTO analyses (chat_id, last_message_id, sentiment, category, urgency, summary, suggested_reply,
                              model, prompt_tokens, completion_tokens, created_at)
        SELECT c, c * :per_chat, (ARRAY['positive','neutral','negative'])[1 + (c::bigint * 7919 / 7) % 3],
               (ARRAY['question','complaint','return','delivery','product_defect','other'])[1 + (c::bigint * 104729 / 11) % 6],
               (ARRAY['low','medium','high'])[1 + (c::bigint * 1299709 / 13) % 3], 'Покупатель спрашивает о доставке заказа.',
               'Здравствуйте! Заказ уже в пути, курьер привезёт его завтра.', 'deepseek-v4-flash', 120, 45, now()
        FROM generate_series(1, :chats) c WHERE c % 3 <> 1"""),
    ("chat columns", """
        UPDATE chats SET last_message_id = chats.id * :per_chat,
               awaiting_reply = (m.sender = 'client'),
               waiting_since = CASE WHEN m.sender = 'client' THEN m.sent_at END,
               last_message_at = m.sent_at,
               last_buyer_message_id = CASE WHEN m.sender = 'client' THEN m.id ELSE m.id - 1 END
        FROM messages m WHERE m.id = chats.id * :per_chat"""),
    ("analysis columns", """
        UPDATE chats SET latest_analysis_id = a.id, sentiment = a.sentiment, category = a.category,
               urgency = a.urgency, priority = CASE a.urgency WHEN 'high' THEN 0 WHEN 'low' THEN 2 ELSE 1 END
        FROM analyses a WHERE a.chat_id = chats.id"""),
    ("sequences", """
        SELECT setval(pg_get_serial_sequence('sellers', 'id'), :sellers),
               setval(pg_get_serial_sequence('chats', 'id'), :chats),
               setval(pg_get_serial_sequence('messages', 'id'), :chats * :per_chat)"""),
    # What ingest keeps for the reports, filled from the messages as the migrations fill an
    # existing database's (0006, 0010).
    ("responses", f"""
        INSERT INTO responses (chat_id, seller_id, urgency, asked_at, answered_at, message_id, seconds)
        SELECT w.*, GREATEST(0, EXTRACT(EPOCH FROM w.answered_at - w.asked_at))
        FROM ({_migration("0006_responses").BACKFILL}) w"""),
    ("traffic hours", _migration("0010_traffic_hours").BACKFILL.format(
        hour=_migration("0010_traffic_hours").HOUR["postgresql"])),
    # As autovacuum would leave a settled table: planner statistics, and a visibility map so
    # counts and key lookups can be answered from the indexes alone.
    ("statistics", "VACUUM ANALYZE"),
]


def seed(url: str, chats: int, per_chat: int) -> None:
    db = Database(url)
    migrate.upgrade(db.engine)
    params = {"sellers": SELLERS, "chats": chats, "per_chat": per_chat}
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE analyses, replies, messages, chats, sellers, api_keys, operators CASCADE"))
    for name, sql in STEPS:
        started = time.monotonic()
        # VACUUM runs outside a transaction block.
        engine = db.engine.execution_options(isolation_level="AUTOCOMMIT") if name == "statistics" else db.engine
        with engine.begin() as conn:
            conn.execute(text(sql), params)
        print(f"{name}: {time.monotonic() - started:.1f} s", flush=True)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--messages-per-chat", type=int, default=10)
    args = parser.parse_args()
    seed(args.database_url, args.chats, args.messages_per_chat)


if __name__ == "__main__":
    main()
