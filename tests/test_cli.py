"""`flask --app chatcenter ...` commands."""
from __future__ import annotations

import json

from sqlalchemy import inspect

from chatcenter import migrate, search_index
from chatcenter.db import Database
from chatcenter.models import Base, Seller, SyncState
from tests.helpers import WB_TOKEN, add_seller


def test_db_upgrade_creates_the_schema_and_is_repeatable(tmp_path, settings):
    from dataclasses import replace

    from chatcenter import create_app

    app = create_app(replace(settings, database_url=f"sqlite:///{tmp_path / 'new.db'}"))
    runner = app.test_cli_runner()
    for said in ("database schema created (revision ", "database schema is up to date (revision "):
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(said)
    tables = set(inspect(app.extensions["chatcenter"].db.engine).get_table_names())
    assert {"sellers", "chats", "messages", "analyses", "alembic_version"} <= tables


def test_migrations_match_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = Database(database_url)
    try:
        migrate.upgrade(db.engine)
        with db.engine.connect() as conn:
            # The full-text index is built outside the models (chatcenter/search_index.py).
            context = MigrationContext.configure(conn, opts={"include_object": search_index.include_object})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        db.dispose()


def test_sellers_add_reads_the_token_from_stdin_and_prints_the_id_last(app, runner):
    result = runner.invoke(args=["sellers", "add", "Магазин"], input=WB_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    seller_id = int(result.output.strip().splitlines()[-1])
    assert WB_TOKEN not in result.output
    with app.extensions["chatcenter"].db.session() as session:
        seller = session.get(Seller, seller_id)
        assert (seller.name, seller.wb_token, seller.sync_state) == ("Магазин", WB_TOKEN, SyncState.IDLE)


def test_sellers_add_without_a_token_is_a_clear_error(runner):
    result = runner.invoke(args=["sellers", "add", "Shop"], input="")
    assert result.exit_code == 2
    assert "no WB token on standard input" in result.output


def test_set_token_resumes_a_seller_whose_token_was_refused(app, runner):
    seller_id = add_seller(app)
    with app.extensions["chatcenter"].db.session() as session:
        seller = session.get(Seller, seller_id)
        seller.sync_state, seller.last_error = SyncState.AUTH_ERROR, "WB API rejected the token (401)"
    result = runner.invoke(args=["sellers", "set-token", str(seller_id)], input="new.token.value\n")
    assert result.exit_code == 0, result.output
    with app.extensions["chatcenter"].db.session() as session:
        seller = session.get(Seller, seller_id)
        assert (seller.wb_token, seller.sync_state, seller.last_error) == ("new.token.value", SyncState.IDLE, None)


def test_sync_enqueues_then_says_it_is_already_queued(job_app):
    runner = job_app.test_cli_runner()
    seller_id = add_seller(job_app)
    first = runner.invoke(args=["sync", str(seller_id)])
    second = runner.invoke(args=["sync", str(seller_id)])
    assert first.output.strip() == f"enqueued job sync-seller-{seller_id}"
    assert second.output.strip() == f"job sync-seller-{seller_id} is already queued or running; nothing new enqueued"


def test_sync_now_prints_what_it_added(job_app, wb_stub):
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="Где заказ?", sender="client", is_new_chat=True)
    wb_stub.add_event(chat["chatID"], text="Уже едет", sender="seller")
    seller_id = add_seller(job_app)
    result = job_app.test_cli_runner().invoke(args=["sync", str(seller_id), "--now"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"seller {seller_id}: 1 chats and 2 messages added in 1 pages, 1 analyses enqueued"


def test_unknown_ids_are_one_line_and_exit_1(runner):
    # README: a failure a person must act on is one line and exit 1 (not Click's usage, exit 2).
    for what, command in (("seller", "sync"), ("chat", "analyze")):
        for row_id in ("999", "9999", "99999999999999999999", "0"):
            for now in ([], ["--now"]):
                result = runner.invoke(args=[command, row_id, *now])
                assert (result.exit_code, result.output) == (1, f"error: {what} {row_id} does not exist\n")


def test_analyze_now_prints_the_stored_analysis(job_app, wb_stub, deepseek_stub):
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="Заказ опаздывает на неделю!", sender="client", is_new_chat=True)
    seller_id = add_seller(job_app)
    runner = job_app.test_cli_runner()
    runner.invoke(args=["sync", str(seller_id), "--now"])

    result = runner.invoke(args=["analyze", "1", "--now"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert (printed["chat_id"], printed["sentiment"], printed["category"], printed["urgency"]) == (
        1, "negative", "delivery", "high")
