"""A chat's status outside the API: a new buyer message reopening it through the real
worker and the WB stub, and the `flask chats` commands (the same actions as the API)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from chatcenter.actions import request_sync
from chatcenter.models import Chat, Operator, utcnow
from tests.helpers import add_seller, resources, run_worker_process
from tests.inbox_support import add_operator
from tests.test_queries import make_chat


def test_a_new_buyer_message_reopens_a_resolved_or_snoozed_chat_through_the_real_worker(
        job_app, job_settings, make_api, wb_stub):
    seller = add_seller(job_app)
    wb_chats = {}
    for name in ("resolved", "snoozed", "answered by us"):
        wb_chats[name] = wb_stub.add_chat(client_name="Анна Петрова", text="")
        wb_stub.add_event(wb_chats[name]["chatID"], text="Где заказ?", is_new_chat=True)
    request_sync(resources(job_app), seller)
    assert run_worker_process(job_settings, "sync").returncode == 0
    api = make_api(job_app)
    with resources(job_app).db.session() as session:
        ids = dict(zip(wb_chats, session.scalars(select(Chat.id).order_by(Chat.id)).all()))
    until = (utcnow() + timedelta(days=2)).isoformat()
    assert api.patch(f"/api/chats/{ids['resolved']}", json={"status": "resolved"}).status_code == 200
    assert api.patch(f"/api/chats/{ids['snoozed']}", json={"status": "snoozed", "snoozed_until": until}).status_code == 200
    assert api.patch(f"/api/chats/{ids['answered by us']}", json={"status": "resolved"}).status_code == 200

    wb_stub.add_event(wb_chats["resolved"]["chatID"], text="Так где же заказ?")
    wb_stub.add_event(wb_chats["snoozed"]["chatID"], text="Ау!")
    wb_stub.add_event(wb_chats["answered by us"]["chatID"], text="Заказ в пути", sender="seller")
    request_sync(resources(job_app), seller)
    result = run_worker_process(job_settings, "sync")
    assert result.returncode == 0, result.stderr

    for name in ("resolved", "snoozed"):
        chat = api.get(f"/api/chats/{ids[name]}").get_json()
        assert (chat["status"], chat["snoozed_until"]) == ("open", None), name
        assert chat["changes"][-1]["kind"] == "reopened"
        assert chat["changes"][-1]["by"] == {"kind": "buyer", "id": None, "name": None}
    # A seller's message (ours, echoed by WB) leaves a resolved chat resolved.
    assert api.get(f"/api/chats/{ids['answered by us']}").get_json()["status"] == "resolved"
    assert [c["id"] for c in api.get("/api/chats?status=open").get_json()["chats"]] == [ids["snoozed"],
                                                                                         ids["resolved"]]

    # Stored twice (the same page read again), the message reopens nothing twice.
    request_sync(resources(job_app), seller)
    assert run_worker_process(job_settings, "sync").returncode == 0
    assert len(api.get(f"/api/chats/{ids['resolved']}").get_json()["changes"]) == 2


def test_the_chats_commands_resolve_reopen_snooze_and_assign(app, runner, make_api):
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    anna = add_operator(app, "anna@shop.example")

    result = runner.invoke(args=["chats", "resolve", str(chat_id)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"chat {chat_id}: resolved, unassigned\n"
    assert runner.invoke(args=["chats", "reopen", str(chat_id)]).stdout == f"chat {chat_id}: open, unassigned\n"
    result = runner.invoke(args=["chats", "snooze", str(chat_id), "2099-01-01T09:00:00+03:00"])
    assert result.stdout == f"chat {chat_id}: snoozed until 2099-01-01T06:00:00+00:00, unassigned\n"
    result = runner.invoke(args=["chats", "assign", str(chat_id), "Anna@shop.example"])
    assert result.stdout == f"chat {chat_id}: snoozed until 2099-01-01T06:00:00+00:00, anna@shop.example\n"
    assert runner.invoke(args=["chats", "assign", str(chat_id), "--none"]).stdout.endswith(", unassigned\n")
    assert runner.invoke(args=["chats", "assign", str(chat_id), str(anna)]).stdout.endswith(", anna@shop.example\n")

    result = runner.invoke(args=["chats", "note", str(chat_id)], input="Звонила на склад: обмен завтра.\n")
    assert result.exit_code == 0 and result.stdout.startswith(f"chat {chat_id}: note "), result.output
    result = runner.invoke(args=["chats", "note", str(chat_id)], input="   \n")
    assert result.exit_code == 1 and result.stderr.startswith("error: text: ") and result.stderr.count("\n") == 1
    # The same lists as the API's: by status, and by words.
    assert runner.invoke(args=["chats", "list", "--status", "resolved"]).stdout == ""
    assert runner.invoke(args=["chats", "list", "--status", "snoozed"]).stdout.startswith(f"{chat_id}\t")
    assert runner.invoke(args=["chats", "list", "--search", "client"]).stdout.startswith(f"{chat_id}\t")  # its message
    assert runner.invoke(args=["chats", "list", "--search", "обмен"]).stdout == ""  # notes are not searched

    # Recorded as made from the command line, and shown so through the API.
    detail = make_api(app).get(f"/api/chats/{chat_id}").get_json()
    assert [(n["text"], n["by"]["kind"]) for n in detail["notes"]] == [("Звонила на склад: обмен завтра.", "cli")]
    changes = detail["changes"]
    assert [c["kind"] for c in changes] == ["resolved", "reopened", "snoozed", "assigned", "unassigned", "assigned"]
    assert {c["by"]["kind"] for c in changes} == {"cli"}

    for args, line in (
            (["chats", "resolve", "999"], "error: chat 999 does not exist\n"),
            (["chats", "snooze", str(chat_id), "tomorrow"], "error: UNTIL: must be an ISO 8601 date-time"),
            (["chats", "snooze", str(chat_id), "2020-01-01T09:00:00+00:00"], "error: snoozed_until: must be in the future"),
            (["chats", "snooze", str(chat_id), "2099-01-01T09:00:00"], "error: snoozed_until: must be an ISO 8601"),
            (["chats", "assign", str(chat_id), "nobody@shop.example"], "error: operator nobody@shop.example does not"),
            (["chats", "assign", str(chat_id)], "error: OPERATOR: give an operator's e-mail or id, or --none"),
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith(line) and result.stderr.count("\n") == 1, (args, result.stderr)
        assert result.stdout == ""
    with resources(app).db.session() as session:
        session.get(Operator, anna).active = False
    assert runner.invoke(args=["chats", "assign", str(chat_id), "anna@shop.example"]).stderr == (
        f"error: assignee_id: operator {anna} is disabled\n")


def test_the_migration_opens_every_chat_unassigned_and_keeps_their_messages(database_url):
    """0015 on a database with chats: each is open and unassigned, its messages and waits kept
    (a copy of the chats table on SQLite would have deleted them: ON DELETE CASCADE); and back."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from chatcenter import migrate
    from chatcenter.db import Database

    db = Database(database_url)
    try:
        migrate.upgrade(db.engine, "0015")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO sellers (id, name, wb_token, active, sync_state, set_aside_events, "
                                 "created_at) VALUES (1, 'Shop', 't', true, 'ok', 0, '2026-11-01 00:00:00')")
            conn.exec_driver_sql("INSERT INTO chats (id, seller_id, wb_chat_id, last_message_at, awaiting_reply, "
                                 "analysis_due, priority, created_at) VALUES (1, 1, 'c', '2026-11-30 12:00:00', "
                                 "true, false, 1, '2026-11-30 09:00:00')")
            conn.exec_driver_sql("INSERT INTO messages (id, chat_id, wb_event_id, sender, text, sent_at) "
                                 "VALUES (1, 1, 'e1', 'client', 'x', '2026-11-30 12:00:00')")
        assert migrate.upgrade(db.engine) == ("0015", "0016")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT status, snoozed_until, assignee_id FROM chats")).all() == [
                ("open", None, None)]
            assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 1
        with db.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(migrate.MIGRATIONS))
            config.attributes["connection"] = connection
            command.downgrade(config, "0015")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM messages")).scalar() == 1
            assert "status" not in conn.execute(text("SELECT * FROM chats")).keys()
    finally:
        db.dispose()
