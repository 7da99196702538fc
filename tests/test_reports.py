"""Response-time reports against a hand-computed fixture, on SQLite and PostgreSQL: the chats
come in through the real sync (WB stub), the operator's answer through the real reply job."""
from __future__ import annotations

import time
from urllib.parse import quote
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from chatcenter import migrate, reports
from chatcenter.actions import request_reply, request_sync
from chatcenter.db import Database
from chatcenter.models import Chat, Message, Response, Seller, TrafficHour
from chatcenter.scope import EVERYTHING
from tests.helpers import WB_TOKEN, add_seller, resources, run_jobs
from tests.inbox_support import add_operator
from tests.test_inbox_browser import browser, context, live, shoot  # noqa: F401  (fixtures)
from tests.test_inbox_browser import sign_in as browser_sign_in

MIN = 60_000
TARGETS = {"high": 60, "medium": 240, "low": 1440}


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def set_urgency(app, wb_chat_id: str, urgency: str | None) -> int:
    with resources(app).db.session() as session:
        chat = session.scalar(select(Chat).where(Chat.wb_chat_id == wb_chat_id))
        chat.urgency = urgency
        return chat.id


@pytest.fixture
def fixture(job_app, wb_stub):
    """Shop A: three answered waits (30 min high, 2 h high, 3 h medium) and a low-urgency chat
    waiting 30 h; shop B: one wait answered by an operator in the inbox after about 10 min."""
    now = int(time.time() * 1000)
    t0 = (now - 50 * 60 * MIN) // (60 * MIN) * (60 * MIN)  # on the hour: the hourly chart's buckets
    shop_a = add_seller(job_app, name="Shop A")

    def sync():
        request_sync(resources(job_app), shop_a)
        run_jobs(job_app, ("sync",))

    c1 = wb_stub.add_chat(client_name="Анна")["chatID"]
    wb_stub.add_event(c1, "где заказ?", is_new_chat=True, add_timestamp=t0)
    wb_stub.add_event(c1, "ау?", add_timestamp=t0 + 5 * MIN)          # the same wait goes on
    sync()
    chat_ids = {"c1": set_urgency(job_app, c1, "high")}  # as the analysis would: before the answers
    wb_stub.add_event(c1, "едет", sender="seller", add_timestamp=t0 + 30 * MIN)   # 1800 s
    wb_stub.add_event(c1, "спасибо", sender="seller", add_timestamp=t0 + 31 * MIN)  # not a new answer
    wb_stub.add_event(c1, "а скидка?", add_timestamp=t0 + 120 * MIN)
    wb_stub.add_event(c1, "нет", sender="seller", add_timestamp=t0 + 240 * MIN)   # 7200 s
    c2 = wb_stub.add_chat(client_name="Борис")["chatID"]
    wb_stub.add_event(c2, "размер?", is_new_chat=True, add_timestamp=t0 + 300 * MIN)
    wb_stub.add_event(c2, "M", sender="seller", add_timestamp=t0 + 480 * MIN)     # 10800 s, not analysed
    c3 = wb_stub.add_chat(client_name="Вера")["chatID"]
    wb_stub.add_event(c3, "возврат?", is_new_chat=True, add_timestamp=now - 30 * 60 * MIN)  # waiting 30 h
    sync()
    chat_ids.update(c2=set_urgency(job_app, c2, None), c3=set_urgency(job_app, c3, "low"))

    shop_b = add_seller(job_app, name="Shop B", token="second-token-of-shop-b")
    wb_stub.valid_tokens.add("second-token-of-shop-b")
    with wb_stub.lock:  # the stub serves one feed to every token: shop B's is its own
        wb_stub.chats.clear()
        wb_stub.events.clear()
    c4 = wb_stub.add_chat(client_name="Глеб")["chatID"]
    wb_stub.add_event(c4, "привет", is_new_chat=True, add_timestamp=now - 10 * MIN)
    request_sync(resources(job_app), shop_b)
    run_jobs(job_app, ("sync",))
    chat_ids["c4"] = set_urgency(job_app, c4, "medium")
    operator = add_operator(job_app)
    request_reply(resources(job_app), chat_ids["c4"], "Здравствуйте!", requested_by=f"operator:{operator}")
    run_jobs(job_app, ("reply",))
    return {"a": shop_a, "b": shop_b, "operator": operator, "t0": t0, "now": now, "chats": chat_ids}


def test_response_times_per_seller_and_operator(job_app, fixture):
    period = reports.Period(at(fixture["t0"]) - timedelta(days=1), datetime.now(timezone.utc) + timedelta(hours=1))
    with resources(job_app).db.session() as session:
        report = reports.report(session, period, TARGETS, scope=EVERYTHING)
    shop_a, shop_b = report["sellers"]
    # [1800, 7200, 10800]: median rank 2, p90 rank 3; on time: 1800 <= 1 h (high when
    # answered), 7200 > 1 h (high), 10800 <= 4 h (not analysed: medium).
    assert shop_a == {"seller_id": fixture["a"], "name": "Shop A", "answered": 3, "median_seconds": 7200.0,
                      "p90_seconds": 10800.0, "within_target": 0.6667, "waiting_past_target": 1}
    assert shop_b["answered"] == 1 and shop_b["within_target"] == 1.0 and shop_b["waiting_past_target"] == 0
    assert 600 <= shop_b["median_seconds"] == shop_b["p90_seconds"] <= 660
    [operator] = report["operators"]
    assert operator["operator_id"] == fixture["operator"] and operator["answered"] == 1
    assert operator["email"] == "anna@shop.example"

    only_b = reports.Period(period.start, period.end, seller_id=fixture["b"])
    with resources(job_app).db.session() as session:
        assert [s["seller_id"] for s in reports.report(session, only_b, TARGETS, scope=EVERYTHING)["sellers"]] == [fixture["b"]]


def test_daily_and_hourly_charts(job_app, fixture):
    period = reports.Period(at(fixture["t0"]) - timedelta(hours=1), datetime.now(timezone.utc) + timedelta(hours=1),
                            seller_id=fixture["a"])
    with resources(job_app).db.session() as session:
        report = reports.report(session, period, TARGETS, scope=EVERYTHING)
    days, hours = report["days"], report["hours"]
    answered = {at(fixture["t0"] + m * MIN).strftime("%Y-%m-%d") for m in (30, 240, 480)}
    assert {d["day"] for d in days} == answered
    assert sum(d["answered"] for d in days) == 3 == report["sellers"][0]["answered"]
    assert sum(h["incoming"] for h in hours) == 5 and sum(h["outgoing"] for h in hours) == 4
    first = at(fixture["t0"]).strftime("%Y-%m-%dT%H")
    assert hours[0] == {"hour": first, "incoming": 2, "outgoing": 2}


def test_a_bad_period_is_refused(job_app):
    now = datetime.now(timezone.utc)
    with resources(job_app).db.session() as session:
        for period, message in ((reports.Period(now, now - timedelta(days=1)), "from: must be before to"),
                                (reports.Period(now - timedelta(days=200), now), "at most 92 days")):
            with pytest.raises(ValueError, match=message):
                reports.report(session, period, TARGETS, scope=EVERYTHING)


def test_the_migration_fills_response_times_from_the_stored_history(database_url):
    """An existing database: 0006 pairs the stored messages into waits, as ingest now does."""
    db = Database(database_url)
    try:
        migrate.upgrade(db.engine, "0005")
        t0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO sellers (id, name, wb_token, active, sync_state, set_aside_events, "
                                 "created_at) VALUES (1, 'Shop', 't', true, 'ok', 0, '2026-11-01 00:00:00')")
            conn.exec_driver_sql("INSERT INTO chats (id, seller_id, wb_chat_id, last_message_at, awaiting_reply, "
                                 "analysis_due, priority, created_at) VALUES (1, 1, 'c', '2026-11-30 12:00:00', "
                                 "false, false, 1, '2026-11-30 09:00:00')")
            for n, (sender, minutes) in enumerate([("client", 0), ("client", 5), ("seller", 30), ("seller", 31),
                                                    ("client", 120), ("seller", 240), ("client", 300)]):
                sent = (t0 + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
                conn.exec_driver_sql(f"INSERT INTO messages (id, chat_id, wb_event_id, sender, text, sent_at) "
                                     f"VALUES ({n + 1}, 1, 'e{n}', '{sender}', 'x', '{sent}')")
        migrate.upgrade(db.engine)
        with db.session() as session:
            rows = session.execute(select(Response.message_id, Response.seconds).order_by(Response.id)).all()
            hours = session.execute(select(TrafficHour.hour, TrafficHour.incoming, TrafficHour.outgoing)
                                    .order_by(TrafficHour.hour)).all()
        assert [(m, s) for m, s in rows] == [(3, 1800.0), (6, 7200.0)]
        assert [(h.hour, n_in, n_out) for h, n_in, n_out in hours] == [(9, 2, 2), (11, 1, 0), (13, 0, 1), (14, 1, 0)]
    finally:
        db.dispose()


def test_a_chat_answered_by_the_feed_and_a_late_echo_counts_once(job_app, wb_stub):
    seller_id = add_seller(job_app, token=WB_TOKEN)
    chat = wb_stub.add_chat()["chatID"]
    now = int(time.time() * 1000)
    wb_stub.add_event(chat, "вопрос", is_new_chat=True, add_timestamp=now - 20 * MIN)
    wb_stub.add_event(chat, "ответ", sender="seller", add_timestamp=now - 15 * MIN)
    for _ in range(2):  # a second sync reads the same events again: nothing is added
        request_sync(resources(job_app), seller_id)
        run_jobs(job_app, ("sync",))
    with resources(job_app).db.session() as session:
        assert session.scalars(select(Response.seconds)).all() == [300.0]
        assert session.get(Seller, seller_id).name
        assert session.scalar(select(Message.id).where(Message.text == "ответ"))


def test_the_reports_page_in_a_browser(fixture, live, context):
    from playwright.sync_api import expect

    first = at(fixture["t0"]).strftime("%Y-%m-%d")
    path = f"/reports?from={first}&to={datetime.now(timezone.utc).strftime('%Y-%m-%d')}"
    for viewport, language, name in (({"width": 1440, "height": 900}, "en", "reports.png"),
                                     ({"width": 360, "height": 780}, "en", "reports-mobile.png"),
                                     ({"width": 1440, "height": 900}, "ru", "reports-ru.png")):
        page = context(viewport=viewport).new_page()
        browser_sign_in(page, live, "anna@shop.example")
        expect(page.get_by_role("heading", name="Inbox")).to_be_visible()  # signed in: the session is the new one
        page.goto(live(f"/language/{language}?next={quote(path)}"))
        shop_a = page.locator("table.report").first.locator("tr", has_text="Shop A")
        if language == "en":
            expect(page.get_by_role("heading", name="Response times")).to_be_visible()
            expect(shop_a).to_contain_text("2 h")      # the median, 7,200 s
            expect(shop_a).to_contain_text("67%")      # two of three within target
        else:
            expect(page.get_by_role("heading", name="Время ответа")).to_be_visible()
            expect(shop_a).to_contain_text("2 ч")
        expect(page.locator("figure.chart svg")).to_have_count(2)
        assert page.locator("figure.chart rect.bar").count() > 0
        assert page.locator("figure.chart polyline").count() == 2
        shoot(page, name)


def test_the_api_gives_the_same_report(job_app, fixture, make_api):
    api = make_api(job_app)
    start = (at(fixture["t0"]) - timedelta(days=1)).isoformat()
    end = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    answer = api.get("/api/reports/response-times", query_string={"from": start, "to": end})
    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    shop_a = next(s for s in report["sellers"] if s["seller_id"] == fixture["a"])
    assert (shop_a["answered"], shop_a["median_seconds"], shop_a["p90_seconds"], shop_a["within_target"],
            shop_a["waiting_past_target"]) == (3, 7200.0, 10800.0, 0.6667, 1)
    assert [o["operator_id"] for o in report["operators"]] == [fixture["operator"]]
    assert sum(d["answered"] for d in report["days"]) == 4
    assert sum(h["incoming"] for h in report["hours"]) == 6  # shop A's five and shop B's one
    only_b = api.get("/api/reports/response-times",
                     query_string={"from": start, "to": end, "seller_id": fixture["b"]}).get_json()
    assert [s["seller_id"] for s in only_b["sellers"]] == [fixture["b"]]

    default = api.get("/api/reports/response-times").get_json()  # the last 7 days
    assert (datetime.fromisoformat(default["to"]) - datetime.fromisoformat(default["from"])) == timedelta(days=7)
    for query, field in (({"from": end, "to": start}, "from"), ({"from": "yesterday"}, "from"),
                         ({"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "to"),
                         ({"seller": "1"}, "seller")):
        refused = api.get("/api/reports/response-times", query_string=query)
        assert refused.status_code == 400 and refused.get_json()["detail"].startswith(field), refused.get_json()
