"""`flask api-keys ...`, `flask chats list` and `flask sellers list --json`."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from sqlalchemy import select

from chatcenter.config import PROJECT_ROOT
from chatcenter.models import ApiKey
from tests.helpers import WB_TOKEN, add_seller, resources, settings_env
from tests.test_queries import make_chat


def create(runner, name="ci bot"):
    result = runner.invoke(args=["api-keys", "create", name])
    assert result.exit_code == 0, result.output
    return result


def test_create_prints_the_key_once_as_the_last_line_and_stores_only_its_hash(app, runner):
    result = create(runner)
    lines = result.stdout.splitlines()
    key = lines[-1]
    assert key.startswith("cc_") and len(key) == 46 and key.strip() == key
    assert result.stdout.count(key) == 1
    assert "API key 1 (ci bot) created" in lines[0]
    with resources(app).db.session() as session:
        row = session.scalars(select(ApiKey)).one()
        assert (row.name, row.key_hash) == ("ci bot", hashlib.sha256(key.encode()).hexdigest())
    with resources(app).db.engine.connect() as conn:
        assert key not in str(conn.exec_driver_sql("SELECT * FROM api_keys").all())
    response = app.test_client().get("/api/sellers", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_a_bad_name_is_one_line_and_exit_2(runner):
    for name in ("", "   ", "x" * 101, "two\nlines"):
        result = runner.invoke(args=["api-keys", "create", name])
        assert result.exit_code == 2
        assert "NAME: must be 1 to 100 printable characters" in result.output
        assert "Traceback" not in result.output


def test_list_shows_each_key_without_the_key(app, runner):
    first = create(runner, "first").stdout.splitlines()[-1]
    create(runner, "second")
    runner.invoke(args=["api-keys", "revoke", "2"])
    app.test_client().get("/api/sellers", headers={"Authorization": f"Bearer {first}"})
    result = runner.invoke(args=["api-keys", "list"])
    assert result.exit_code == 0, result.output
    one, two = result.stdout.splitlines()
    assert one.startswith("1\tfirst\tall sellers, read-write\tcreated ") and "last used 20" in one
    assert one.endswith("\tactive")
    assert two.startswith("2\tsecond\tall sellers, read-write\tcreated ") and "last used never" in two
    assert "\trevoked 20" in two
    assert "cc_" not in result.stdout
    keys = json.loads(runner.invoke(args=["api-keys", "list", "--json"]).stdout)
    assert [(k["id"], k["name"], k["revoked_at"] is None) for k in keys] == [(1, "first", True), (2, "second", False)]
    assert all(set(k) == {"id", "name", "created_at", "last_used_at", "revoked_at", "sellers", "read_only"}
               for k in keys)
    assert [(k["sellers"], k["read_only"]) for k in keys] == [(None, False), (None, False)]


def test_revoke_closes_the_api_to_the_key(app, runner):
    key = create(runner).stdout.splitlines()[-1]
    result = runner.invoke(args=["api-keys", "revoke", "1"])
    assert (result.exit_code, result.stdout) == (0, "API key 1 (ci bot) revoked\n")
    response = app.test_client().get("/api/sellers", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    again = runner.invoke(args=["api-keys", "revoke", "1"])
    assert (again.exit_code, again.stdout) == (0, "API key 1 (ci bot) was already revoked\n")


def test_revoking_an_unknown_key_is_one_line_and_exit_1(runner):
    result = runner.invoke(args=["api-keys", "revoke", "99"])
    assert result.exit_code == 1
    assert result.output == "error: API key 99 does not exist: see `flask api-keys list`\n"


def test_the_real_command_prints_the_key_alone_on_stdout(settings, tmp_path):
    from dataclasses import replace

    from chatcenter import create_app

    app = create_app(replace(settings, database_url=f"sqlite:///{tmp_path / 'cli.db'}"), component="cli")
    app.test_cli_runner().invoke(args=["db", "upgrade"])
    env = settings_env(replace(settings, database_url=f"sqlite:///{tmp_path / 'cli.db'}"))
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "chatcenter", "api-keys", "create", "ops"],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    key = result.stdout.splitlines()[-1]
    assert key.startswith("cc_") and len(key) == 46
    assert key not in result.stderr


# ------------------------------------------------------------------------- chats list

def test_chats_list_shows_chats_with_their_analysis(app, runner):
    seller = add_seller(app)
    answered = make_chat(app, seller, 1, buyer_at=1, seller_at=9)
    low = make_chat(app, seller, 2, buyer_at=2, urgency="low", name="Анна Петрова")
    high = make_chat(app, seller, 3, buyer_at=3, urgency="high")
    result = runner.invoke(args=["chats", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [int(line.split("\t")[0]) for line in lines] == [answered, high, low]  # newest activity first
    assert "\tАнна\tawaiting since 2026-11-01T12:02:00+00:00\tlow/neutral/question\t" in lines[2]
    assert "\tanswered\tnot analysed\t" in lines[0]
    assert "Петрова" not in result.stdout

    awaiting = runner.invoke(args=["chats", "list", "--awaiting"])
    assert [int(line.split("\t")[0]) for line in awaiting.stdout.splitlines()] == [high, low]  # most urgent first


def test_chats_list_json_is_the_apis_chat_objects(app, runner):
    seller = add_seller(app)
    ids = [make_chat(app, seller, n, buyer_at=n) for n in range(5)]
    result = runner.invoke(args=["chats", "list", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    chats = json.loads(result.stdout)
    assert [c["id"] for c in chats] == list(reversed(ids))[:3]
    assert set(chats[0]) == {"id", "seller_id", "buyer_first_name", "product", "awaiting_reply", "waiting_since",
                             "last_activity_at", "last_message", "analysis", "status", "snoozed_until", "assignee"}
    everything = json.loads(runner.invoke(args=["chats", "list", "--json", "--limit", "250"]).stdout)
    assert len(everything) == 5
    assert json.loads(runner.invoke(args=["chats", "list", "--json", "--awaiting", "--seller", "99"]).stdout) == []


def test_chats_list_without_a_database_is_one_line(make_app, tmp_path):
    app = make_app(database_url=f"sqlite:///{tmp_path / 'nowhere' / 'no.db'}")
    with app.extensions["chatcenter"].db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE chats")
    result = app.test_cli_runner().invoke(args=["chats", "list"])
    assert result.exit_code == 1  # the database answers; its schema is the fault
    assert result.output.startswith("error: database error (OperationalError) at sqlite:///")
    assert result.output.rstrip().endswith("run `flask db upgrade`")
    assert len(result.output.splitlines()) == 1


def test_sellers_list_json(app, runner):
    add_seller(app, "Магазин")
    result = runner.invoke(args=["sellers", "list", "--json"])
    assert result.exit_code == 0, result.output
    [seller] = json.loads(result.stdout)
    assert (seller["id"], seller["name"], seller["sync_state"], seller["last_synced_at"]) == (1, "Магазин", "idle", None)
    assert WB_TOKEN not in result.stdout
    plain = runner.invoke(args=["sellers", "list"])
    assert plain.stdout == "1\tМагазин\tidle\tlast synced: never\n"
