"""Search (GET /api/chats?q=): words in buyers' names and message text, on SQLite (FTS5) and
PostgreSQL (the `russian` configuration), with chats stored by the real sync and reply paths."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import text

from chatcenter import migrate, search
from chatcenter.actions import request_sync
from chatcenter.db import Database
from chatcenter.scope import EVERYTHING
from tests.helpers import add_seller, resources, run_jobs


def is_postgresql(app) -> bool:
    return resources(app).db.engine.dialect.name == "postgresql"


@pytest.fixture
def api(job_app, make_api):
    return make_api(job_app)


def sync(app, seller_id) -> None:
    request_sync(resources(app), seller_id)
    run_jobs(app, queues=("sync",))


@pytest.fixture
def world(job_app, wb_stub, api):
    """Chats synced from the WB stub (driver-level inserts); ids by a short label."""
    seller = add_seller(job_app)
    said = {
        "damaged": ("Ольга Смирнова", ["Коробку помяли при доставке", "Можно вернуть деньги?"]),
        "english": ("John Smith", ["The boxes arrived crushed", "Please send a refund"]),
        "named": ("Коробкин Иван", ["Здравствуйте, где мой заказ?"]),
        "other": ("Мария", ["Спасибо, всё отлично"]),
    }
    wb_ids = {}
    for label, (name, texts) in said.items():
        chat = wb_stub.add_chat(client_name=name, text=texts[-1])
        wb_ids[chat["chatID"]] = label
        for n, message in enumerate(texts):
            wb_stub.add_event(chat["chatID"], text=message, is_new_chat=n == 0)
    sync(job_app, seller)
    chats = api.get("/api/chats?limit=100").get_json()["chats"]
    with resources(job_app).db.session() as session:
        rows = session.execute(text("SELECT id, wb_chat_id FROM chats")).all()
    ids = {wb_ids[wb_id]: chat_id for chat_id, wb_id in rows}
    assert len(chats) == len(ids) == 4
    return {"seller": seller, **ids}


@pytest.fixture(params=["looked-up", "walked"])
def strategy(request, monkeypatch):
    """PostgreSQL lists the chats of a rare word by id, and walks the activity index for a
    common one (chatcenter/search.py): with the thresholds at 0 every word here is common."""
    if request.param == "walked":
        monkeypatch.setattr(search, "PROBE", 0)
        monkeypatch.setattr(search, "COMMON", 0)
    return request.param


def found(api, q, **params) -> list[int]:
    response = api.get("/api/chats", query_string={"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.get_json()
    return [chat["id"] for chat in response.get_json()["chats"]]


def test_words_in_messages_and_names_find_their_chats_in_russian_and_english(job_app, api, world, strategy):
    assert found(api, "коробку") == [world["damaged"]]  # the same form: every database
    assert found(api, "ДЕНЬГИ") == [world["damaged"]]  # case does not matter
    assert found(api, "Ольга") == [world["damaged"]]  # the buyer's name
    assert found(api, "crushed") == [world["english"]]
    assert found(api, "boxes") == found(api, "box") == [world["english"]]  # English word forms
    assert found(api, "refund please") == [world["english"]]  # every word, any order
    assert found(api, "refund коробку") == []  # in no one message
    assert found(api, "nothing-like-this") == []
    if is_postgresql(job_app):  # Russian word forms: the `russian` configuration
        assert found(api, "коробка") == [world["damaged"]]  # "коробку"
        assert found(api, "доставка помять") == [world["damaged"]]
        assert found(api, "Ольги") == [world["damaged"]]


def test_a_reply_sent_through_the_reply_job_is_found(job_app, api, world, wb_stub):
    response = api.post(f"/api/chats/{world['other']}/reply", json={"text": "Ваш промокод VESNA готов"})
    assert response.status_code == 202
    run_jobs(job_app, queues=("reply",))
    assert found(api, "промокод") == [world["other"]]
    assert found(api, "vesna") == [world["other"]]


def test_name_matches_come_first_then_message_matches_newest_first_across_pages(job_app, api, world, wb_stub,
                                                                               strategy):
    # "Иван" is a name of one chat; two other chats' newest messages say it (newest last).
    for label in ("other", "damaged"):
        wb_id = next(c["chatID"] for c in wb_stub.chats if c["clientName"] == {"other": "Мария",
                                                                                  "damaged": "Ольга Смирнова"}[label])
        wb_stub.add_event(wb_id, text="Передайте Иван спасибо")
    sync(job_app, world["seller"])
    expected = [world["named"], world["damaged"], world["other"]]
    assert found(api, "Иван") == expected
    for limit in (1, 2):
        seen, cursor = [], None
        while True:
            params = {"q": "Иван", "limit": limit, **({"cursor": cursor} if cursor else {})}
            page = api.get("/api/chats", query_string=params).get_json()
            seen += [chat["id"] for chat in page["chats"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, limit
    # A cursor belongs to its q: another search refuses it.
    first = api.get("/api/chats", query_string={"q": "Иван", "limit": 1}).get_json()
    other = api.get("/api/chats", query_string={"q": "спасибо", "limit": 1, "cursor": first["next_cursor"]})
    assert other.status_code == 400 and other.get_json()["detail"].startswith("cursor")


def test_search_combines_with_the_filters(job_app, api, world, strategy):
    assert found(api, "Иван OR Ольга") == []  # OR is a word here, and no chat holds all three
    assert found(api, "вернуть", awaiting_reply="true") == [world["damaged"]]
    assert found(api, "вернуть", awaiting_reply="false") == []
    assert found(api, "вернуть", seller_id=world["seller"]) == [world["damaged"]]
    assert found(api, "вернуть", seller_id=world["seller"] + 1) == []


@pytest.mark.parametrize("q", ['"', '""', "*", "коробку*", ":", "a:b", "-коробку", "OR", "AND", "NOT", "NEAR(a b)",
                               "(", ")", "^", "'", "\\", "&|!", "коробку & | !", "{text}:коробку", "\u0000",
                               "💥", "'; DROP TABLE chats; --", "a" * 200])
def test_query_syntax_from_the_user_is_plain_text_never_an_error(job_app, api, world, q):
    assert api.get("/api/chats", query_string={"q": q}).status_code == 200


def test_a_blank_q_is_no_search_and_a_long_one_is_refused(job_app, api, world):
    everything = found(api, "")
    assert len(everything) == 4 and found(api, "   ") == everything
    response = api.get("/api/chats", query_string={"q": "Анна " * 40 + "x"})
    assert response.status_code == 400  # the words are not echoed: they may be a buyer's name
    assert response.get_json() == {"detail": "q: must be at most 200 characters, got 201"}
    response = api.get("/api/chats", query_string={"q": "коробку", "order": "queue"})
    assert response.status_code == 400 and response.get_json()["detail"].startswith("order")


def test_the_migration_indexes_the_rows_already_stored(database_url):
    """Upgrading a database that holds chats from before search makes them searchable."""
    db = Database(database_url)
    try:
        migrate.upgrade(db.engine, "0010")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO sellers (id, name, wb_token, active, sync_state, set_aside_events, "
                              "created_at) VALUES (1, 's', 't', true, 'ok', 0, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO chats (id, seller_id, wb_chat_id, client_name, last_message_at, "
                              "awaiting_reply, analysis_due, priority, created_at) VALUES (7, 1, 'w', 'Анна Old', "
                              "CURRENT_TIMESTAMP, false, false, 1, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO messages (chat_id, wb_event_id, sender, text, sent_at) "
                              "VALUES (7, 'e', 'client', 'Коробку помяли, boxes crushed', CURRENT_TIMESTAMP)"))
        migrate.upgrade(db.engine)
        from chatcenter.queries import ChatFilter, list_chats

        with db.session() as session:
            for q in ("коробку", "boxes", "Анна", "old"):
                assert [c["id"] for c in list_chats(session, ChatFilter(q=q), scope=EVERYTHING).chats] == [7], q
        migrate.upgrade(db.engine)  # up to date: nothing happens
        from alembic import command
        from alembic.config import Config

        with db.engine.begin() as conn:  # and it can be taken back
            config = Config()
            config.set_main_option("script_location", str(migrate.MIGRATIONS))
            config.attributes["connection"] = conn
            command.downgrade(config, "0010")
    finally:
        db.dispose()


def test_the_inbox_keeps_the_search_across_its_pages(app):
    """The inbox page's search box: 30 matching chats over two pages of 25, the words kept."""
    from tests.inbox_support import add_operator, sign_in

    seller = add_seller(app)
    with resources(app).db.engine.begin() as conn:
        for n in range(32):
            conn.execute(text("INSERT INTO chats (id, seller_id, wb_chat_id, client_name, last_message_at, "
                              "awaiting_reply, analysis_due, priority, created_at) VALUES (:id, :seller, :wb, :name, "
                              ":at, false, false, 1, :at)"),
                         {"id": n + 1, "seller": seller, "wb": f"w{n}", "name": f"Покупатель {n}",
                          "at": f"2026-12-0{1 + n % 5} 10:{n:02d}:00.000000"})
            conn.execute(text("INSERT INTO messages (chat_id, wb_event_id, sender, text, sent_at) VALUES "
                              "(:id, 'e', 'client', :text, '2026-12-01 10:00:00.000000')"),
                         {"id": n + 1, "text": "Где мой заказ?" if n < 30 else "Спасибо"})
    add_operator(app)
    client = app.test_client()
    sign_in(client)
    first = client.get("/?q=заказ")
    assert first.status_code == 200 and 'value="заказ"' in first.text
    assert first.text.count('class="chat-row') == 25
    next_url = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', first.text).group(1))
    assert "q=%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7" in next_url
    second = client.get(next_url)
    assert second.text.count('class="chat-row') == 5 and 'rel="next"' not in second.text
    assert client.get("/?q=" + "x" * 201).status_code == 400
