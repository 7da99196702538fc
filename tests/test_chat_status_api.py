"""A chat's status, assignee and internal notes through the JSON API (every answer checked
against the OpenAPI document), the inbox's reply form and the analysis job."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from chatcenter.models import Chat, Operator, utcnow
from tests.helpers import add_seller, resources, run_jobs
from tests.inbox_support import add_operator, csrf_token, form_value
from tests.inbox_support import sign_in as sign_in_client
from tests.test_queries import make_chat


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def chats(app):
    seller = add_seller(app)
    return [make_chat(app, seller, n, buyer_at=n) for n in range(4)]


def listed(api, query: str) -> list[int]:
    response = api.get(f"/api/chats?{query}")
    assert response.status_code == 200, response.get_json()
    return [chat["id"] for chat in response.get_json()["chats"]]


def test_a_chat_is_open_and_unassigned_until_changed_and_each_change_is_recorded(app, api, chats):
    chat_id = chats[0]
    before = api.get(f"/api/chats/{chat_id}").get_json()
    assert (before["status"], before["snoozed_until"], before["assignee"]) == ("open", None, None)
    assert before["notes"] == [] and before["changes"] == []

    anna = add_operator(app, "anna@shop.example")
    answer = api.patch(f"/api/chats/{chat_id}", json={"status": "resolved", "assignee_id": anna})
    assert answer.status_code == 200
    chat = answer.get_json()
    assert chat["status"] == "resolved" and chat["assignee"] == {"id": anna, "name": "anna@shop.example"}
    assert [(c["kind"], c["by"]) for c in chat["changes"]] == [
        ("resolved", {"kind": "api_key", "id": 1, "name": "tests"}),
        ("assigned", {"kind": "api_key", "id": 1, "name": "tests"})]
    assert chat["changes"][1]["assignee"] == {"id": anna, "name": "anna@shop.example"}
    assert chat == api.get(f"/api/chats/{chat_id}").get_json()  # the same shape as GET

    # Setting what is already so records nothing; reopening and unassigning do.
    again = api.patch(f"/api/chats/{chat_id}", json={"status": "resolved"}).get_json()
    assert len(again["changes"]) == 2
    back = api.patch(f"/api/chats/{chat_id}", json={"status": "open", "assignee_id": None}).get_json()
    assert (back["status"], back["assignee"]) == ("open", None)
    assert [c["kind"] for c in back["changes"]] == ["resolved", "assigned", "reopened", "unassigned"]
    [summary] = [c for c in api.get("/api/chats").get_json()["chats"] if c["id"] == chat_id]
    assert (summary["status"], summary["snoozed_until"], summary["assignee"]) == ("open", None, None)


def test_a_snooze_needs_a_future_time_and_ends_by_itself(app, api, chats):
    chat_id = chats[1]
    url = f"/api/chats/{chat_id}"
    later = utcnow() + timedelta(hours=1)
    for body, detail in (
            ({"status": "snoozed"}, 'snoozed_until: is required with "status": "snoozed"'),
            ({"status": "snoozed", "snoozed_until": iso(utcnow() - timedelta(minutes=1))},
             "snoozed_until: must be in the future"),
            ({"status": "snoozed", "snoozed_until": "2030-01-01T09:00:00"},
             "snoozed_until: must be an ISO 8601 date-time with its offset"),
            ({"status": "snoozed", "snoozed_until": 1893456000}, "snoozed_until: must be an ISO 8601"),
            ({"status": "resolved", "snoozed_until": iso(later)}, 'snoozed_until: is only taken with "status"'),
            ({"snoozed_until": iso(later)}, 'snoozed_until: is only taken with "status"'),
            ({"status": "closed"}, "status: must be one of open, resolved, snoozed"),
            ({"assignee_id": 999}, "assignee_id: no operator has id 999"),
            ({"assignee_id": "1"}, "assignee_id: must be"),
            ({"colour": "red"}, "colour: is not a field of this request"),
            ({}, "body: give at least one of status, snoozed_until, assignee_id")):
        answer = api.patch(url, json=body)
        assert answer.status_code == 400, body
        assert answer.get_json()["detail"].startswith(detail), (body, answer.get_json())
    assert api.patch("/api/chats/9999", json={"status": "resolved"}).status_code == 404

    snoozed = api.patch(url, json={"status": "snoozed", "snoozed_until": iso(later)}).get_json()
    assert snoozed["status"] == "snoozed"
    assert snoozed["snoozed_until"].startswith(later.isoformat(timespec="seconds")[:19])
    assert snoozed["changes"][-1]["kind"] == "snoozed" and snoozed["changes"][-1]["snoozed_until"]
    assert listed(api, "status=snoozed") == [chat_id]
    assert chat_id not in listed(api, "status=open")

    # Its time comes: open again, in every list, with nothing having to run.
    with resources(app).db.session() as session:
        session.execute(update(Chat).where(Chat.id == chat_id).values(snoozed_until=utcnow() - timedelta(seconds=1)))
    assert api.get(url).get_json()["status"] == "open"
    assert listed(api, "status=snoozed") == []
    assert chat_id in listed(api, "status=open")


def test_only_an_active_operator_can_be_assigned(app, api, chats):
    boris = add_operator(app, "boris@shop.example")
    with resources(app).db.session() as session:
        session.get(Operator, boris).active = False
    answer = api.patch(f"/api/chats/{chats[0]}", json={"assignee_id": boris})
    assert answer.status_code == 400
    assert answer.get_json()["detail"] == f"assignee_id: operator {boris} is disabled"


def test_the_list_filters_by_status_and_assignee_with_the_other_filters_and_pages(app, api, chats):
    anna, boris = add_operator(app, "anna@shop.example"), add_operator(app, "boris@shop.example")
    first, second, third, fourth = chats
    api.patch(f"/api/chats/{first}", json={"status": "resolved", "assignee_id": anna})
    api.patch(f"/api/chats/{second}", json={"assignee_id": anna})
    api.patch(f"/api/chats/{third}", json={"assignee_id": boris, "status": "snoozed",
                                           "snoozed_until": iso(utcnow() + timedelta(days=1))})
    newest_first = [fourth, third, second, first]
    assert listed(api, "status=resolved") == [first]
    assert listed(api, "status=open") == [fourth, second]
    assert listed(api, "status=open,snoozed") == listed(api, "status=open&status=snoozed") == [fourth, third, second]
    assert listed(api, "status=open,resolved,snoozed") == newest_first
    assert listed(api, f"assignee_id={anna}") == [second, first]
    assert listed(api, f"assignee_id={anna}&status=open") == [second]
    assert listed(api, "assignee_id=none") == [fourth]
    assert listed(api, f"assignee_id={boris}&order=queue&awaiting_reply=true") == [third]
    seller = api.get("/api/chats").get_json()["chats"][0]["seller_id"]
    assert listed(api, f"assignee_id={anna}&seller_id={seller}&status=open,resolved") == [second, first]

    # Pages: the cursor belongs to the filters it was given with.
    page = api.get("/api/chats?status=open,snoozed&limit=2").get_json()
    assert [c["id"] for c in page["chats"]] == [fourth, third]
    rest = api.get(f"/api/chats?status=snoozed,open&limit=2&cursor={page['next_cursor']}").get_json()
    assert [c["id"] for c in rest["chats"]] == [second] and rest["next_cursor"] is None
    assert api.get(f"/api/chats?status=open&limit=2&cursor={page['next_cursor']}").status_code == 400

    for query, detail in (("status=closed", "status: must be one or more of open, resolved, snoozed"),
                          ("status=", "status: must be one or more of open, resolved, snoozed"),
                          ("assignee_id=nobody", "assignee_id: must be an operator's id"),
                          ("assignee_id=0", "assignee_id: must be an operator's id"),
                          ("assignee_id=1&assignee_id=2", "assignee_id: was given more than once")):
        answer = api.get(f"/api/chats?{query}")
        assert answer.status_code == 400 and answer.get_json()["detail"].startswith(detail), (query, answer.get_json())


def test_notes_are_stored_shown_with_the_chat_and_refused_when_empty_or_long(app, api, chats):
    chat_id = chats[0]
    answer = api.post(f"/api/chats/{chat_id}/notes", json={"text": "  Звонила на склад, ждём ответа.  "})
    assert answer.status_code == 201
    note = answer.get_json()
    assert note["text"] == "Звонила на склад, ждём ответа."
    assert note["by"] == {"kind": "api_key", "id": 1, "name": "tests"}
    assert api.get(f"/api/chats/{chat_id}").get_json()["notes"] == [note]
    for body, detail in (({"text": "   "}, "text: must be"), ({"text": "x" * 2001}, "text: must be"),
                         ({"text": 5}, "text: must be a string"), ({}, "text: is required"),
                         ({"text": "ok", "to": "wb"}, "to: is not a field of this request")):
        refused = api.post(f"/api/chats/{chat_id}/notes", json=body)
        assert refused.status_code == 400 and refused.get_json()["detail"].startswith(detail), body
    assert api.post(f"/api/chats/{chat_id}/notes", json={"text": "x" * 2000}).status_code == 201
    assert api.post("/api/chats/9999/notes", json={"text": "hello"}).status_code == 404


def test_a_note_never_reaches_deepseek(job_app, make_api, deepseek_stub):
    from chatcenter.actions import request_analysis

    seller = add_seller(job_app)
    chat_id = make_chat(job_app, seller, 1, buyer_at=1)
    api = make_api(job_app)
    secret = "Покупатель грубит, промокод не давать"
    assert api.post(f"/api/chats/{chat_id}/notes", json={"text": secret}).status_code == 201
    request_analysis(resources(job_app), chat_id, force=True)
    run_jobs(job_app, ("analysis",))
    [request] = deepseek_stub.requests
    sent = str(request.body)
    assert "client 1" in sent  # the buyer's message went
    assert secret not in sent and "промокод" not in sent


def test_replying_from_the_inbox_assigns_an_unassigned_chat_but_an_api_reply_does_not(app, api, chats):
    anna = add_operator(app, "anna@shop.example")
    by_key = api.post(f"/api/chats/{chats[0]}/reply", json={"text": "Здравствуйте!"})
    assert by_key.status_code == 202
    assert api.get(f"/api/chats/{chats[0]}").get_json()["assignee"] is None

    client = app.test_client()
    sign_in_client(client)
    page = client.get(f"/chats/{chats[1]}").text
    client.post(f"/chats/{chats[1]}/reply", data={"csrf_token": csrf_token(page), "text": "Здравствуйте!",
                                                  "idempotency_key": form_value(page, "idempotency_key")})
    chat = api.get(f"/api/chats/{chats[1]}").get_json()
    assert chat["assignee"] == {"id": anna, "name": "anna@shop.example"}
    assert [(c["kind"], c["by"]["name"]) for c in chat["changes"]] == [("assigned", "anna@shop.example")]

    # Already someone's: a reply by another operator leaves it with them.
    boris = add_operator(app, "boris@shop.example")
    api.patch(f"/api/chats/{chats[2]}", json={"assignee_id": boris})
    page = client.get(f"/chats/{chats[2]}").text
    client.post(f"/chats/{chats[2]}/reply", data={"csrf_token": csrf_token(page), "text": "Добрый день",
                                                  "idempotency_key": form_value(page, "idempotency_key")})
    assert api.get(f"/api/chats/{chats[2]}").get_json()["assignee"]["id"] == boris
    with resources(app).db.session() as session:
        assert session.scalar(select(Chat.assignee_id).where(Chat.id == chats[3])) is None


def test_the_inbox_views_show_what_they_say(app, api, chats):
    import re

    anna, boris = add_operator(app, "anna@shop.example"), add_operator(app, "boris@shop.example")
    mine, theirs, snoozed, resolved = chats
    api.patch(f"/api/chats/{mine}", json={"assignee_id": anna})
    api.patch(f"/api/chats/{theirs}", json={"assignee_id": boris})
    api.patch(f"/api/chats/{snoozed}", json={"status": "snoozed", "snoozed_until": iso(utcnow() + timedelta(hours=1))})
    api.patch(f"/api/chats/{resolved}", json={"status": "resolved"})
    client = app.test_client()
    sign_in_client(client)  # as anna

    def rows(view: str) -> list[int]:
        page = client.get(f"/?view={view}" if view else "/")
        assert page.status_code == 200
        return [int(i) for i in re.findall(r'class="chat-row[^"]*" data-key="(\d+)"', page.text)]

    assert rows("") == rows("needs_reply") == [mine, theirs]  # open, the buyer waiting; by wait
    assert rows("mine") == [mine]
    assert rows("unassigned") == []
    assert rows("snoozed") == [snoozed]
    assert rows("resolved") == [resolved]
    assert sorted(rows("all")) == sorted(chats)
    page = client.get("/?view=all").text
    assert "Snoozed until" in page and 'class="badge badge-assignee"' in page
    assert "2 chats await a reply" in page  # the count is "Needs reply"'s
