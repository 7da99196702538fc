"""Saved replies (templates): the API's CRUD, filling for a chat, the limits, and the CLI."""
from __future__ import annotations

import uuid

import pytest

from chatcenter.models import Chat
from tests.helpers import add_seller, resources

GREETING = "Здравствуйте, {buyer_name}! Артикул {nm_id} уже в пути."


@pytest.fixture
def api(app, make_api):
    return make_api(app)


def make_chat(app, name="Анна Петрова", card=None) -> int:
    seller = add_seller(app)
    with resources(app).db.session() as session:
        chat = Chat(seller_id=seller, wb_chat_id=f"wb-{uuid.uuid4().hex}", client_name=name, awaiting_reply=True,
                    analysis_due=False, priority=1, good_card=card if card is not None else {"nmID": 123456789})
        session.add(chat)
        session.flush()
        return chat.id


def test_create_list_change_delete(app, api):
    created = api.post("/api/templates", json={"name": "Приветствие", "text": GREETING})
    assert created.status_code == 201
    saved = created.get_json()
    assert saved == {"id": saved["id"], "name": "Приветствие", "text": GREETING}
    assert created.headers["Location"] == f"/api/templates/{saved['id']}"
    api.post("/api/templates", json={"name": "Apology", "text": "Sorry, {buyer_name}."})
    listed = api.get("/api/templates").get_json()["templates"]
    assert [t["name"] for t in listed] == ["Apology", "Приветствие"]  # by name

    changed = api.open("PATCH", f"/api/templates/{saved['id']}", json={"text": "Добрый день, {buyer_name}!"})
    assert changed.status_code == 200
    assert changed.get_json() == {"id": saved["id"], "name": "Приветствие", "text": "Добрый день, {buyer_name}!"}
    renamed = api.open("PATCH", f"/api/templates/{saved['id']}", json={"name": "Greeting"})
    assert renamed.get_json()["name"] == "Greeting" and renamed.get_json()["text"] == "Добрый день, {buyer_name}!"

    nothing = api.open("PATCH", f"/api/templates/{saved['id']}")
    assert nothing.status_code == 400 and nothing.get_json() == {"detail": "body: send name, text or both"}
    assert api.delete(f"/api/templates/{saved['id']}").status_code == 204
    assert [t["name"] for t in api.get("/api/templates").get_json()["templates"]] == ["Apology"]
    assert api.delete(f"/api/templates/{saved['id']}").status_code == 404
    assert api.open("PATCH", f"/api/templates/{saved['id']}", json={"name": "x"}).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"name": "", "text": "t"}, "name"),
    ({"name": "   ", "text": "t"}, "name"),
    ({"name": "n" * 101, "text": "t"}, "name"),
    ({"name": "n", "text": ""}, "text"),
    ({"name": "n", "text": "t" * 1001}, "text"),
    ({"name": "n"}, "text"),
    ({"name": "n", "text": "t", "extra": 1}, "extra"),
    ({"name": 5, "text": "t"}, "name"),
])
def test_bad_templates_are_refused_naming_the_field(app, api, body, field):
    response = api.post("/api/templates", json=body)
    assert response.status_code == 400 and response.get_json()["detail"].startswith(field), response.get_json()


def test_unknown_placeholders_are_refused_naming_them(app, api):
    response = api.post("/api/templates", json={"name": "n", "text": "Hi {buyer}, {nm_id} {order_id} {x"})
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert detail.startswith("text") and "{buyer}" in detail and "{order_id}" in detail and "{nm_id}," not in detail
    saved = api.post("/api/templates", json={"name": "ok", "text": "Hi"}).get_json()
    response = api.open("PATCH", f"/api/templates/{saved['id']}", json={"text": "{buyer_first_name}"})
    assert response.status_code == 400 and "{buyer_first_name}" in response.get_json()["detail"]


def test_names_are_unique(app, api):
    assert api.post("/api/templates", json={"name": "Same", "text": "a"}).status_code == 201
    again = api.post("/api/templates", json={"name": "Same", "text": "b"})
    assert again.status_code == 409 and again.get_json()["detail"].startswith("name")
    other = api.post("/api/templates", json={"name": "Other", "text": "b"}).get_json()
    assert api.open("PATCH", f"/api/templates/{other['id']}", json={"name": "Same"}).status_code == 409


def test_a_template_filled_for_a_chat(app, api):
    chat = make_chat(app)
    saved = api.post("/api/templates", json={"name": "Greeting", "text": GREETING}).get_json()
    response = api.get(f"/api/chats/{chat}/templates/{saved['id']}")
    assert response.status_code == 200
    assert response.get_json() == {"id": saved["id"], "name": "Greeting",
                                   "text": "Здравствуйте, Анна! Артикул 123456789 уже в пути."}
    nameless = make_chat(app, name=None, card={})
    assert api.get(f"/api/chats/{nameless}/templates/{saved['id']}").get_json()["text"] == (
        "Здравствуйте, ! Артикул  уже в пути.")
    assert api.get(f"/api/chats/999/templates/{saved['id']}").status_code == 404
    assert api.get(f"/api/chats/{chat}/templates/999").status_code == 404


def test_a_filled_text_over_wbs_limit_is_a_clear_error(app, api):
    chat = make_chat(app, name="А" * 150)
    text = "{buyer_name}" * 10 + "x" * 880  # 1000 characters as written, 2380 filled
    saved = api.post("/api/templates", json={"name": "Long", "text": text}).get_json()
    response = api.get(f"/api/chats/{chat}/templates/{saved['id']}")
    assert response.status_code == 422
    assert response.get_json()["detail"] == ("text: filled for this chat it is 2380 characters, over WB's limit of "
                                             "1000; shorten the saved reply")


def test_the_cli_adds_lists_and_removes(app, runner):
    added = runner.invoke(args=["templates", "add", "Доставка"], input="Заказ {nm_id} в пути, {buyer_name}.\n")
    assert added.exit_code == 0, added.output
    template_id = int(added.output.strip().splitlines()[-1])
    listed = runner.invoke(args=["templates", "list"])
    assert listed.exit_code == 0 and listed.output == f"{template_id}\tДоставка\t'Заказ {{nm_id}} в пути, {{buyer_name}}.'\n"
    as_json = runner.invoke(args=["templates", "list", "--json"])
    assert '"name": "Доставка"' in as_json.output

    bad = runner.invoke(args=["templates", "add", "Bad"], input="Hi {name}")
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines()[-1] == (
        "error: not saved: text: has unknown placeholders {name} (known: {buyer_name}, {nm_id})")
    twice = runner.invoke(args=["templates", "add", "Доставка"], input="other")
    assert twice.exit_code == 1 and "choose another name" in twice.output

    removed = runner.invoke(args=["templates", "remove", str(template_id)])
    assert removed.exit_code == 0 and removed.output == f"Saved reply {template_id} removed.\n"
    missing = runner.invoke(args=["templates", "remove", str(template_id)])
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines()[-1] == (
        f"error: template {template_id} does not exist: see `flask templates list`")


def test_the_saved_replies_page_changes_one_and_says_why_it_refuses(app):
    from tests.inbox_support import add_operator, csrf_token, sign_in

    add_operator(app)
    client = app.test_client()
    sign_in(client)
    with resources(app).db.session() as session:
        from chatcenter import saved_replies

        first = saved_replies.create(session, "Доставка", "Заказ {nm_id} в пути")
        saved_replies.create(session, "Возврат", "Оформите возврат")
    page = client.get("/templates")
    assert page.status_code == 200 and 'value="Доставка"' in page.text
    token = csrf_token(page.text)

    changed = client.post(f"/templates/{first['id']}", data={"csrf_token": token, "name": "Доставка",
                                                              "text": "{buyer_name}, заказ {nm_id} в пути"})
    assert changed.status_code == 302
    assert "Saved reply “Доставка” changed." in client.get(changed.headers["Location"]).text
    taken = client.post(f"/templates/{first['id']}", data={"csrf_token": token, "name": "Возврат", "text": "x"})
    assert taken.status_code == 409 and "Another saved reply is named “Возврат”" in taken.text
    assert '>x</textarea>' in taken.text  # what was typed is kept
    unknown = client.post("/templates", data={"csrf_token": token, "name": "New", "text": "Hi {who}"})
    assert unknown.status_code == 400 and "Unknown placeholders: {who}." in unknown.text
    assert client.post("/templates", data={"name": "New", "text": "Hi"}).status_code == 400  # no CSRF token
    assert client.post("/templates/999/delete", data={"csrf_token": token}).status_code == 404
    with resources(app).db.session() as session:
        assert [t["text"] for t in saved_replies.list_all(session)] == ["Оформите возврат",
                                                                        "{buyer_name}, заказ {nm_id} в пути"]
