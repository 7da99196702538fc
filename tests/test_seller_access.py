"""Who sees which seller (issue 25, item 9): an agent sees only the sellers granted, a key
limited to sellers only those, and whatever lies outside answers exactly as what does not
exist (404, same body); a read-only key's changes answer 403. Through the API, the inbox's
pages and the CLI, on SQLite and PostgreSQL, against real Redis."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from chatcenter import api_keys, job_board, migrate
from chatcenter.actions import request_sync
from chatcenter.db import Database
from chatcenter.chat_store import store_analysis
from chatcenter.models import Analysis, ApiKey, ApiKeySeller, Chat, Message, Operator, Reply, Seller, utcnow
from chatcenter.operators import grant, scope_of, session_holder
from chatcenter.job_board import JobNotFound
from chatcenter.scope import EVERYTHING, Scope, visible_job, visible_jobs
from tests.api_client import ApiClient
from tests.helpers import resources
from tests.inbox_support import PASSWORD, add_operator, csrf_token, sign_in
from tests.test_inbox_browser import browser, context, live, shoot  # noqa: F401  (fixtures)
from tests.test_inbox_browser import row_names
from tests.test_inbox_browser import sign_in as browser_sign_in

# Ids chosen apart from every other number on a page, so that an answer about one can be
# compared with the answer about another by putting the id aside.
MINE, THEIRS, NOBODYS = 4101, 5202, 6303  # sellers: granted, not granted, not existing
MY_CHAT, THEIR_CHAT, NO_CHAT = 7101, 8202, 9303
AGENT = "agent@shop.example"
ADMIN = "admin@shop.example"


def add_chat(app, chat_id: int, seller_id: int, buyer: str, text: str) -> None:
    with resources(app).db.session() as session:
        chat = Chat(id=chat_id, seller_id=seller_id, wb_chat_id=f"wb-{chat_id}", client_name=buyer,
                    reply_sign="sign", good_card={"nmID": chat_id * 10, "price": 1990, "priceCurrency": "RUB",
                                                  "size": "M"}, awaiting_reply=True, analysis_due=False, priority=1,
                    last_message_at=utcnow(), waiting_since=utcnow() - timedelta(minutes=30))
        session.add(chat)
        session.flush()
        message = Message(chat_id=chat_id, wb_event_id=f"e-{chat_id}", sender="client", text=text,
                          sent_at=utcnow() - timedelta(minutes=30))
        session.add(message)
        session.flush()
        chat.last_message_id = chat.last_buyer_message_id = message.id


@pytest.fixture
def shops(app):
    return seed_shops(app)


def seed_shops(app) -> int:
    """Two sellers with a chat each; an agent (its id returned) granted the first, an admin."""
    with resources(app).db.session() as session:
        session.add_all([Seller(id=MINE, name="Granted shop", wb_token="t1"),
                         Seller(id=THEIRS, name="Hidden shop", wb_token="t2")])
    add_chat(app, MY_CHAT, MINE, "Вера Granted", "Где мой заказ?")
    add_chat(app, THEIR_CHAT, THEIRS, "Глеб Hidden", "Secret question of the hidden shop")
    agent = add_operator(app, AGENT)
    add_operator(app, ADMIN)
    with resources(app).db.session() as session:
        session.get(Operator, agent).role = "agent"
        grant(session, session.get(Operator, agent), MINE)
    return agent


def key_for(app, openapi_checker, **limits) -> ApiClient:
    with resources(app).db.session() as session:
        created = api_keys.create(session, "scoped", **limits)
    return ApiClient(app, created.key, openapi_checker)


@pytest.fixture
def limited(app, shops, openapi_checker) -> ApiClient:
    return key_for(app, openapi_checker, sellers=[MINE])


def same_answer(first, second, first_id, second_id) -> None:
    """The two answers are one, but for the id they name (and per-render tokens)."""
    def plain(response, ident):
        text = response.get_data(as_text=True).replace(str(ident), "ID")
        return response.status_code, re.sub(r'name="csrf_token" value="[^"]+"', "", text)

    assert plain(first, first_id) == plain(second, second_id)


def stored_replies(app) -> list[Reply]:
    with resources(app).db.session() as session:
        return list(session.scalars(select(Reply)))


# ------------------------------------------------------------------------------ the API

def test_a_key_limited_to_a_seller_lists_only_that_sellers_sellers_and_chats(app, limited, make_api):
    assert [s["id"] for s in limited.get("/api/sellers").get_json()["sellers"]] == [MINE]
    chats = limited.get("/api/chats").get_json()["chats"]
    assert [c["id"] for c in chats] == [MY_CHAT]
    for order in ("activity", "queue"):
        assert [c["id"] for c in limited.get(f"/api/chats?order={order}&awaiting_reply=true").get_json()["chats"]] \
            == [MY_CHAT]
    # A filter naming a seller not granted is answered as for a seller that does not exist: no chats.
    hidden = limited.get(f"/api/chats?seller_id={THEIRS}")
    missing = limited.get(f"/api/chats?seller_id={NOBODYS}")
    assert hidden.status_code == missing.status_code == 200
    assert hidden.get_json() == missing.get_json() == {"chats": [], "next_cursor": None}
    # An unrestricted key (as every key made before seller limits) sees both.
    everyone = make_api(app)
    assert [c["id"] for c in everyone.get("/api/chats").get_json()["chats"]] == [THEIR_CHAT, MY_CHAT]


def test_a_search_finds_nothing_of_a_seller_not_granted(app, limited, make_api, agent_client):
    everyone = make_api(app)
    admin = app.test_client()
    assert sign_in(admin, ADMIN).status_code == 302
    for q in ("secret question", "Глеб", "hidden"):
        assert f'href="/chats/{THEIR_CHAT}"' in admin.get("/", query_string={"q": q}).get_data(as_text=True), q  # words of the other seller's message and buyer
        assert [c["id"] for c in everyone.get("/api/chats", query_string={"q": q}).get_json()["chats"]] == \
            [THEIR_CHAT], q
        assert limited.get("/api/chats", query_string={"q": q}).get_json() == {"chats": [], "next_cursor": None}
        page = agent_client.get("/", query_string={"q": q}).get_data(as_text=True)
        assert f'href="/chats/{THEIR_CHAT}"' not in page and "Secret question" not in page, q
    assert [c["id"] for c in limited.get("/api/chats", query_string={"q": "заказ"}).get_json()["chats"]] == [MY_CHAT]
    assert f'href="/chats/{MY_CHAT}"' in agent_client.get("/", query_string={"q": "заказ"}).get_data(as_text=True)


def test_another_sellers_chat_answers_as_a_chat_that_does_not_exist(app, limited):
    theirs, nobodys = limited.get(f"/api/chats/{THEIR_CHAT}"), limited.get(f"/api/chats/{NO_CHAT}")
    assert theirs.status_code == 404
    assert theirs.get_json() == {"detail": f"chat {THEIR_CHAT} does not exist"}
    same_answer(theirs, nobodys, THEIR_CHAT, NO_CHAT)
    assert "Hidden" not in theirs.get_data(as_text=True)
    assert limited.get(f"/api/chats/{MY_CHAT}").get_json()["buyer_first_name"] == "Вера"

    body = {"text": "Здравствуйте! Заказ в пути."}
    for path in ("reply", "analysis"):
        theirs = limited.post(f"/api/chats/{THEIR_CHAT}/{path}", json=body if path == "reply" else {})
        nobodys = limited.post(f"/api/chats/{NO_CHAT}/{path}", json=body if path == "reply" else {})
        assert theirs.status_code == 404, theirs.get_data(as_text=True)
        same_answer(theirs, nobodys, THEIR_CHAT, NO_CHAT)
    assert stored_replies(app) == []  # nothing recorded, nothing queued for WB
    assert resources(app).redis.keys("*analyze-chat*") == []

    sync_theirs = limited.post(f"/api/sellers/{THEIRS}/sync", json={})
    assert sync_theirs.get_json() == {"detail": f"seller {THEIRS} does not exist"}
    same_answer(sync_theirs, limited.post(f"/api/sellers/{NOBODYS}/sync", json={}), THEIRS, NOBODYS)
    assert limited.post(f"/api/sellers/{MINE}/sync", json={}).status_code == 202


def test_a_limited_key_sees_and_handles_only_its_sellers_jobs(app, limited, make_api):
    for seller_id in (MINE, THEIRS):
        request_sync(resources(app), seller_id)
    queued = limited.get("/api/jobs?state=queued").get_json()["jobs"]
    assert [job["id"] for job in queued] == [f"sync-seller-{MINE}"]
    assert limited.get(f"/api/jobs/sync-seller-{MINE}").status_code == 200
    for method, suffix in (("GET", ""), ("POST", "/retry"), ("DELETE", "")):
        body = {"json": {}} if method == "POST" else {}
        theirs = limited.open(method, f"/api/jobs/sync-seller-{THEIRS}{suffix}", **body)
        nobodys = limited.open(method, f"/api/jobs/sync-seller-{NOBODYS}{suffix}", **body)
        assert theirs.status_code == 404, (method, theirs.get_data(as_text=True))
        same_answer(theirs, nobodys, THEIRS, NOBODYS)
    # Jobs about a chat follow the chat's seller; the unrestricted key sees every job.
    everyone = make_api(app)
    assert {job["id"] for job in everyone.get("/api/jobs?state=queued").get_json()["jobs"]} == {
        f"sync-seller-{MINE}", f"sync-seller-{THEIRS}"}


def test_jobs_about_a_chat_or_a_reply_belong_to_the_chats_seller(app, shops):
    with resources(app).db.session() as session:
        mine, theirs = (Reply(chat_id=chat_id, text="t", requested_by="tests") for chat_id in (MY_CHAT, THEIR_CHAT))
        session.add_all([mine, theirs])
        session.flush()
        ids = {"mine": [f"sync-seller-{MINE}", f"analyze-chat-{MY_CHAT}", f"reply-{mine.id}"],
               "theirs": [f"sync-seller-{THEIRS}", f"analyze-chat-{THEIR_CHAT}", f"reply-{theirs.id}",
                          f"analyze-chat-{NO_CHAT}", "reply-99999", "diagnostics-1", f"reply-{2**40}"]}
    agent = Scope(frozenset({MINE}))
    views = [{"id": job_id, "subject": job_board.subject_of(job_id)} for job_id in ids["mine"] + ids["theirs"]]
    with resources(app).db.session() as session:
        assert [v["id"] for v in visible_jobs(session, agent, views)] == ids["mine"]
        assert visible_jobs(session, EVERYTHING, views) == views
        for job_id in ids["mine"]:
            visible_job(session, agent, job_id)
        for job_id in ids["theirs"]:
            with pytest.raises(JobNotFound):
                visible_job(session, agent, job_id)


def test_a_limited_keys_report_counts_only_its_sellers(app, limited, make_api):
    report = limited.get("/api/reports/response-times").get_json()
    assert [s["seller_id"] for s in report["sellers"]] == [MINE]
    assert report["sellers"][0]["waiting_past_target"] == 0  # 30 min: within every target
    hidden = limited.get(f"/api/reports/response-times?seller_id={THEIRS}").get_json()
    assert hidden["sellers"] == [] and hidden["hours"] == [] and hidden["days"] == []
    everyone = make_api(app).get("/api/reports/response-times").get_json()
    assert [s["seller_id"] for s in everyone["sellers"]] == [MINE, THEIRS]


def test_a_read_only_key_reads_and_every_change_answers_403_naming_why(app, shops, openapi_checker):
    reader = key_for(app, openapi_checker, read_only=True)
    assert [c["id"] for c in reader.get("/api/chats").get_json()["chats"]] == [THEIR_CHAT, MY_CHAT]
    request_sync(resources(app), MINE)
    for method, path, body in (("POST", f"/api/sellers/{MINE}/sync", {}),
                               ("POST", f"/api/chats/{MY_CHAT}/reply", {"text": "Здравствуйте!"}),
                               ("POST", f"/api/chats/{MY_CHAT}/analysis", {}),
                               ("POST", f"/api/chats/{NO_CHAT}/analysis", {}),  # about the key, not the chat
                               ("POST", f"/api/jobs/sync-seller-{MINE}/retry", {}),
                               ("DELETE", f"/api/jobs/sync-seller-{MINE}", None)):
        answer = reader.open(method, path, **({"json": body} if body is not None else {}))
        assert answer.status_code == 403, (method, path, answer.get_data(as_text=True))
        assert answer.get_json()["detail"].startswith(f"Authorization: this API key is read-only and may not {method}")
    assert stored_replies(app) == []
    # Both limits at once: a read-only key of one seller.
    both = key_for(app, openapi_checker, sellers=[MINE], read_only=True)
    assert both.get(f"/api/chats/{THEIR_CHAT}").status_code == 404
    assert both.post(f"/api/chats/{MY_CHAT}/analysis", json={}).status_code == 403


def test_a_key_whose_sellers_are_all_gone_sees_nothing_not_everything(app, shops, openapi_checker):
    limited = key_for(app, openapi_checker, sellers=[MINE])
    with resources(app).db.session() as session:  # as deleting the seller cascades
        session.execute(delete(ApiKeySeller))
    assert limited.get("/api/chats").get_json()["chats"] == []
    assert limited.get("/api/sellers").get_json() == {"sellers": []}


# ------------------------------------------------------------------------ the inbox pages

@pytest.fixture
def agent_client(app, shops):
    client = app.test_client()
    assert sign_in(client, AGENT).status_code == 302
    return client


def test_an_agent_sees_only_the_granted_sellers_chats_and_sellers(app, agent_client):
    inbox = agent_client.get("/").get_data(as_text=True)
    assert "Вера" in inbox and "Глеб" not in inbox and "Hidden shop" not in inbox
    assert 'class="role role-agent"' in inbox
    assert 'href="/jobs"' not in inbox and 'href="/reports"' not in inbox  # admins' pages
    assert "1 chat awaits a reply" in inbox  # the count is of their chats only
    with resources(app).db.session() as session:  # every chat's messages unread, theirs included
        session.execute(update(Operator).where(Operator.email == AGENT).values(read_floor_message_id=0))
    assert "<title>(1) Inbox" in agent_client.get("/").get_data(as_text=True)  # the unread count too
    # Filtered by a seller not granted: the page of a seller that does not exist (no chats).
    hidden, missing = agent_client.get(f"/?seller={THEIRS}"), agent_client.get(f"/?seller={NOBODYS}")
    same_answer(hidden, missing, THEIRS, NOBODYS)
    assert "Глеб" not in hidden.get_data(as_text=True) and "No chat awaits a reply." in hidden.get_data(as_text=True)
    assert "Глеб" not in agent_client.get("/live/inbox").get_data(as_text=True)
    sellers = agent_client.get("/sellers").get_data(as_text=True)
    assert "Granted shop" in sellers and "Hidden shop" not in sellers
    for admin_page in ("/jobs", "/live/jobs", "/reports"):  # as an address that does not exist
        answer = agent_client.get(admin_page, headers={"Accept": "text/html"})
        assert answer.status_code == 404, admin_page
        assert "There is no such page." in answer.get_data(as_text=True)


def test_an_agent_gets_the_not_found_page_for_another_sellers_chat_and_actions(app, agent_client):
    for path in ("/chats/{}", "/live/chats/{}/thread", "/live/chats/{}/analysis"):
        theirs, nobodys = agent_client.get(path.format(THEIR_CHAT)), agent_client.get(path.format(NO_CHAT))
        assert theirs.status_code == 404, path
        same_answer(theirs, nobodys, THEIR_CHAT, NO_CHAT)
        assert "Глеб" not in theirs.get_data(as_text=True)
    token = csrf_token(agent_client.get(f"/chats/{MY_CHAT}").get_data(as_text=True))
    form = {"csrf_token": token, "text": "Здравствуйте!", "idempotency_key": "k-1"}
    for path in ("/chats/{}/reply", "/chats/{}/analysis"):
        theirs = agent_client.post(path.format(THEIR_CHAT), data=form)
        assert theirs.status_code == 404, path
        same_answer(theirs, agent_client.post(path.format(NO_CHAT), data=form), THEIR_CHAT, NO_CHAT)
    theirs = agent_client.post(f"/sellers/{THEIRS}/sync", data=form)
    same_answer(theirs, agent_client.post(f"/sellers/{NOBODYS}/sync", data=form), THEIRS, NOBODYS)
    assert theirs.status_code == 404
    assert stored_replies(app) == []
    # Their own chat: answered as before.
    assert agent_client.post(f"/chats/{MY_CHAT}/reply", data=form).status_code == 302
    assert [r.chat_id for r in stored_replies(app)] == [MY_CHAT]


def test_the_stale_banner_names_only_the_agents_sellers(app, agent_client):
    with resources(app).db.session() as session:
        for seller_id in (MINE, THEIRS):
            seller = session.get(Seller, seller_id)
            seller.poll_error, seller.poll_failing_since = "WB unreachable", utcnow() - timedelta(minutes=5)
    banner = agent_client.get("/live/stale").get_data(as_text=True)
    assert "Granted shop" in banner and "Hidden shop" not in banner


def test_a_grant_or_a_revocation_counts_at_the_next_page(app, agent_client, runner):
    assert runner.invoke(args=["operators", "grant", AGENT, str(THEIRS)]).exit_code == 0
    assert agent_client.get(f"/chats/{THEIR_CHAT}").status_code == 200
    assert runner.invoke(args=["operators", "revoke", AGENT, str(THEIRS)]).exit_code == 0
    assert agent_client.get(f"/chats/{THEIR_CHAT}").status_code == 404
    assert runner.invoke(args=["operators", "set-role", AGENT, "admin"]).exit_code == 0
    page = agent_client.get(f"/chats/{THEIR_CHAT}")
    assert page.status_code == 200 and 'class="role role-admin"' in page.get_data(as_text=True)
    assert agent_client.get("/jobs").status_code == 200


def test_an_admin_sees_every_seller_and_the_admin_pages(app, shops):
    client = app.test_client()
    assert sign_in(client, ADMIN).status_code == 302
    inbox = client.get("/").get_data(as_text=True)
    assert "Вера" in inbox and "Глеб" in inbox and 'class="role role-admin"' in inbox
    assert client.get(f"/chats/{THEIR_CHAT}").status_code == 200
    assert client.get("/jobs").status_code == 200 and client.get("/reports").status_code == 200


def test_browser_an_agent_sees_only_the_granted_sellers_chats(live, context):
    seed_shops(live.app)
    add_chat(live.app, MY_CHAT + 1, MINE, "Дарья Granted", "Можно поменять размер на M?")
    with resources(live.app).db.session() as session:
        chat = session.get(Chat, MY_CHAT)
        store_analysis(session, chat, Analysis(
            chat_id=MY_CHAT, last_message_id=chat.last_message_id, sentiment="negative", category="delivery",
            urgency="high", summary="The buyer asks where the order is.", suggested_reply="Здравствуйте!",
            model="deepseek-v4-flash", prompt_tokens=1, completion_tokens=1))
    page = context().new_page()
    browser_sign_in(page, live, AGENT)
    page.wait_for_url(live("/"))
    assert sorted(row_names(page)) == ["Вера", "Дарья"]  # not Глеб, of the seller not granted
    assert page.locator(".role").inner_text() == "agent"
    assert page.get_by_role("link", name="Jobs").count() == 0
    assert page.locator("select[name=seller] option").all_inner_texts()[1:] == ["Granted shop"]
    shoot(page, "inbox-agent.png")

    answer = page.goto(live(f"/chats/{THEIR_CHAT}"))
    assert answer.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert f"Chat {THEIR_CHAT} does not exist." in page.content() and "Глеб" not in page.content()


# ------------------------------------------------ every route that names a seller, chat or job

ID_ARGS = {"seller_id": (THEIRS, NOBODYS), "chat_id": (THEIR_CHAT, NO_CHAT),
           "job_id": (f"sync-seller-{THEIRS}", f"sync-seller-{NOBODYS}")}


def routes_naming_a_seller(app, api: bool):
    """(method, rule, id arg) of every route of the app whose URL names a seller, chat or job:
    routes added later are swept too."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") != api:
            continue
        named = [arg for arg in rule.arguments if arg in ID_ARGS]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if named:
                yield method, rule, named[0]


def url_of(rule, id_arg: str, value) -> str:
    values = {arg: 1 for arg in rule.arguments}  # any other id in the URL (an attachment's, a note's)
    values[id_arg] = value
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{arg}>", str(values[arg]), path)
    return path


def test_every_api_route_naming_another_sellers_thing_answers_as_for_nothing(app, limited):
    swept = 0
    for method, rule, id_arg in routes_naming_a_seller(app, api=True):
        theirs_id, nobodys_id = ID_ARGS[id_arg]
        body = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
        theirs = limited.open(method, url_of(rule, id_arg, theirs_id), **body)
        nobodys = limited.open(method, url_of(rule, id_arg, nobodys_id), **body)
        assert theirs.status_code == 404, (method, rule.rule, theirs.get_data(as_text=True))
        same_answer(theirs, nobodys, theirs_id, nobodys_id)
        swept += 1
    assert swept >= 7  # chats (detail, reply, analysis), a seller's sync, jobs (view, retry, discard)


def test_every_inbox_route_naming_another_sellers_thing_answers_as_for_nothing(app, agent_client):
    token = csrf_token(agent_client.get("/").get_data(as_text=True))
    swept = 0
    for method, rule, id_arg in routes_naming_a_seller(app, api=False):
        theirs_id, nobodys_id = ID_ARGS[id_arg]
        form = {"data": {"csrf_token": token}} if method != "GET" else {}
        theirs = agent_client.open(url_of(rule, id_arg, theirs_id), method=method, **form)
        nobodys = agent_client.open(url_of(rule, id_arg, nobodys_id), method=method, **form)
        assert theirs.status_code == 404, (method, rule.rule, theirs.get_data(as_text=True)[-500:])
        same_answer(theirs, nobodys, theirs_id, nobodys_id)
        swept += 1
    assert swept >= 7


# ------------------------------------------------------------------------------- the CLI

def test_operators_add_with_a_role_grant_revoke_set_role_and_list(app, runner):
    with resources(app).db.session() as session:
        session.add_all([Seller(id=MINE, name="Granted shop", wb_token="t1"),
                         Seller(id=THEIRS, name="Hidden shop", wb_token="t2")])
    added = runner.invoke(args=["operators", "add", AGENT, "--role", "agent"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    agent_id = int(added.stdout.splitlines()[-1])
    assert f"operator {AGENT} added as agent" in added.stdout
    assert f"flask operators grant {AGENT} SELLER_ID" in added.stdout

    granted = runner.invoke(args=["operators", "grant", AGENT, str(MINE)])
    assert (granted.exit_code, granted.stdout) == (0, f"operator {agent_id} may now see seller {MINE}\n")
    again = runner.invoke(args=["operators", "grant", str(agent_id), str(MINE)])
    assert again.stdout == f"operator {agent_id} could already see seller {MINE}\n"
    assert runner.invoke(args=["operators", "grant", AGENT, str(THEIRS)]).exit_code == 0
    listed = runner.invoke(args=["operators", "list"]).stdout
    assert f"{agent_id}\t{AGENT}\tactive\tagent\tsellers {MINE}, {THEIRS}\tlast sign-in: never" in listed

    revoked = runner.invoke(args=["operators", "revoke", AGENT, str(THEIRS)])
    assert revoked.stdout == f"operator {agent_id} no longer sees seller {THEIRS}\n"
    assert runner.invoke(args=["operators", "revoke", AGENT, str(THEIRS)]).stdout == \
        f"operator {agent_id} had no grant for seller {THEIRS}\n"
    with resources(app).db.session() as session:
        assert scope_of(session, session_holder(session, agent_id)) == Scope(frozenset({MINE}))

    promoted = runner.invoke(args=["operators", "set-role", AGENT, "admin"])
    assert promoted.stdout == f"operator {agent_id} is now admin: they see all sellers\n"
    with resources(app).db.session() as session:
        assert scope_of(session, session_holder(session, agent_id)) == EVERYTHING
    demoted = runner.invoke(args=["operators", "set-role", str(agent_id), "agent"])
    assert demoted.stdout == f"operator {agent_id} is now agent: they see sellers {MINE}\n"

    plain = runner.invoke(args=["operators", "add", ADMIN], input=PASSWORD + "\n")
    assert "added as admin" in plain.stdout  # as every operator was before roles


def test_operators_commands_fail_in_one_line(app, runner):
    add_operator(app, AGENT)
    for args, code, said in (
            (["grant", AGENT, "77"], 1, "error: seller 77 does not exist (see `flask sellers list`)\n"),
            (["grant", "nobody@shop.example", "77"], 1, "error: operator nobody@shop.example does not exist\n"),
            (["revoke", "999", "1"], 1, "error: operator 999 does not exist\n")):
        result = runner.invoke(args=["operators", *args])
        assert (result.exit_code, result.output) == (code, said), result.output
    for args in (["set-role", AGENT, "owner"], ["add", "x@shop.example", "--role", "owner"],
                 ["grant", AGENT, "0"], ["grant", AGENT, "abc"]):
        result = runner.invoke(args=["operators", *args], input=PASSWORD + "\n")
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_api_keys_create_for_sellers_and_read_only(app, runner):
    with resources(app).db.session() as session:
        session.add_all([Seller(id=MINE, name="Granted shop", wb_token="t1"),
                         Seller(id=THEIRS, name="Hidden shop", wb_token="t2")])
    made = runner.invoke(args=["api-keys", "create", "shop bot", "--seller", str(MINE), "--seller", str(THEIRS),
                               "--read-only"])
    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[0].startswith(f"API key 1 (shop bot) created for sellers {MINE}, {THEIRS}, "
                                                  "read-only. Store it now")
    plain = runner.invoke(args=["api-keys", "create", "all"])
    assert "created for all sellers, read-write." in plain.stdout
    listed = runner.invoke(args=["api-keys", "list"]).stdout.splitlines()
    assert listed[0].startswith(f"1\tshop bot\tsellers {MINE}, {THEIRS}, read-only\tcreated ")
    assert listed[1].startswith("2\tall\tall sellers, read-write\tcreated ")
    missing = runner.invoke(args=["api-keys", "create", "x", "--seller", "77"])
    assert (missing.exit_code, missing.output) == (1, "error: seller 77 does not exist (see `flask sellers list`)\n")
    with resources(app).db.session() as session:
        assert session.scalar(select(ApiKey.id).where(ApiKey.name == "x")) is None  # nothing half-made


# ------------------------------------------------------------------------- the migration

def test_the_migration_keeps_operators_admins_and_keys_unrestricted(database_url):
    db = Database(database_url)
    try:
        migrate.upgrade(db.engine, "0010")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO sellers (id, name, wb_token, active, sync_state, set_aside_events, "
                                 "created_at) VALUES (1, 'Shop', 't', true, 'ok', 0, '2026-11-01 00:00:00')")
            conn.exec_driver_sql("INSERT INTO operators (id, email, password_hash, active, created_at, "
                                 "session_generation) VALUES (1, 'old@shop.example', 'x', true, "
                                 "'2026-11-01 00:00:00', 0)")
            conn.exec_driver_sql("INSERT INTO api_keys (id, name, key_hash, created_at) "
                                 "VALUES (1, 'old key', 'h', '2026-11-01 00:00:00')")
        migrate.upgrade(db.engine)
        with db.session() as session:
            assert session.get(Operator, 1).role == "admin"
            assert scope_of(session, session_holder(session, 1)) == EVERYTHING
            key = session.get(ApiKey, 1)
            assert (key.all_sellers, key.read_only) == (True, False)
            assert api_keys.scope_of(session, key) == EVERYTHING
    finally:
        db.dispose()
